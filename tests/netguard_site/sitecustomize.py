"""Installs the network guard in every Python subprocess the tests start (see netguard_hook)."""

import os

if os.environ.get("NETGUARD_LOG"):
    import netguard_hook

    netguard_hook.install(netguard_hook.append_to_log(os.environ["NETGUARD_LOG"]))
