"""The activity tree of a run as text: status, attempt, duration and error per activity."""

from __future__ import annotations

from typing import Any

_MARK = {"Succeeded": "✓", "Failed": "✗", "Skipped": "-", "Cancelled": "⊘", "InProgress": "…", "Queued": "·"}


def duration(ms: int | None) -> str:
    """``1.2 s`` / ``3 m 04 s`` / ``-``."""
    if ms is None:
        return "-"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f} s" if seconds >= 0.1 or ms == 0 else f"{ms} ms"
    return f"{int(seconds // 60)} m {int(seconds % 60):02d} s"


def format_tree(document: dict[str, Any], *, ascii_only: bool = False) -> str:
    """The run's header and its activities as an indented tree (nested activities under their parent)."""
    run = document.get("run", {})
    lines = [f"{run.get('pipelineName')}  run {run.get('runId')}  {run.get('status')}  "
             f"{duration(run.get('durationInMs'))}" + (f"  (rerun of {run['rerunOf']})" if run.get("rerunOf") else "")]
    if run.get("message") and run.get("status") != "Succeeded":
        lines.append(f"  {run['message']}")
    activities = document.get("activities", [])
    children: dict[str | None, list[dict[str, Any]]] = {}
    for activity in activities:
        children.setdefault(activity.get("parent"), []).append(activity)

    def walk(parent: str | None, depth: int) -> None:
        for activity in children.get(parent, []):
            mark = activity.get("status", "?") if ascii_only else _MARK.get(activity.get("status", ""), "?")
            label = activity["id"].rsplit("/", 1)[-1] if depth else activity["activityName"]
            prefix = activity["id"][: -len(activity["activityName"])].rsplit("/", 2)
            iteration = prefix[-2].rsplit("[", 1)[-1].rstrip("]") if depth and "[" in activity["id"] else None
            tag = f"[{iteration}] " if iteration is not None and iteration.isdigit() else ""
            detail = [activity.get("status", "?"), f"attempt {activity.get('attempt', 0)}",
                      duration(activity.get("durationInMs"))]
            if activity.get("reusedFrom"):
                detail.append(f"reused from {activity['reusedFrom']}")
            line = f"{'  ' * (depth + 1)}{mark} {tag}{label} ({activity.get('activityType')})  " + ", ".join(detail)
            error = activity.get("error")
            if error and activity.get("status") in ("Failed", "Cancelled"):
                line += f"\n{'  ' * (depth + 3)}error: {error.get('message')}"
            lines.append(line)
            walk(activity["id"], depth + 1)

    walk(None, 0)
    return "\n".join(lines)
