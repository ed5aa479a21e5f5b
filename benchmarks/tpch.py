"""The 22 TPC-H queries (with the spec's validation parameters) and a small TPC-H-shaped data generator.

The query texts follow the TPC-H specification (v3), written in the SQL both Polars SQL and lakeml
read: Q15's view is a CTE, intervals are ``INTERVAL 'n' unit``, and each query ends without a
semicolon. Row limits of the spec (Q2, Q3, Q10, Q18, Q21 ...) are ``LIMIT n``.

The data is random but has the schema, keys and value domains of TPC-H (region and nation names,
part types, containers, ship modes, dates 1992-1998), so every query plans against the real
columns and most return rows. It is not dbgen output: results are only compared between engines.

>>> sorted(QUERIES)[:3]
['q01', 'q02', 'q03']
>>> len(QUERIES)
22
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

QUERIES: dict[str, str] = {
    "q01": """
SELECT l_returnflag, l_linestatus, SUM(l_quantity) AS sum_qty, SUM(l_extendedprice) AS sum_base_price,
       SUM(l_extendedprice * (1 - l_discount)) AS sum_disc_price,
       SUM(l_extendedprice * (1 - l_discount) * (1 + l_tax)) AS sum_charge,
       AVG(l_quantity) AS avg_qty, AVG(l_extendedprice) AS avg_price, AVG(l_discount) AS avg_disc,
       COUNT(*) AS count_order
FROM lineitem
WHERE l_shipdate <= DATE '1998-12-01' - INTERVAL '90' DAY
GROUP BY l_returnflag, l_linestatus
ORDER BY l_returnflag, l_linestatus
""",
    "q02": """
SELECT s_acctbal, s_name, n_name, p_partkey, p_mfgr, s_address, s_phone, s_comment
FROM part, supplier, partsupp, nation, region
WHERE p_partkey = ps_partkey AND s_suppkey = ps_suppkey AND p_size = 15 AND p_type LIKE '%BRASS'
  AND s_nationkey = n_nationkey AND n_regionkey = r_regionkey AND r_name = 'EUROPE'
  AND ps_supplycost = (
      SELECT MIN(ps_supplycost)
      FROM partsupp, supplier, nation, region
      WHERE p_partkey = ps_partkey AND s_suppkey = ps_suppkey AND s_nationkey = n_nationkey
        AND n_regionkey = r_regionkey AND r_name = 'EUROPE')
ORDER BY s_acctbal DESC, n_name, s_name, p_partkey
LIMIT 100
""",
    "q03": """
SELECT l_orderkey, SUM(l_extendedprice * (1 - l_discount)) AS revenue, o_orderdate, o_shippriority
FROM customer, orders, lineitem
WHERE c_mktsegment = 'BUILDING' AND c_custkey = o_custkey AND l_orderkey = o_orderkey
  AND o_orderdate < DATE '1995-03-15' AND l_shipdate > DATE '1995-03-15'
GROUP BY l_orderkey, o_orderdate, o_shippriority
ORDER BY revenue DESC, o_orderdate
LIMIT 10
""",
    "q04": """
SELECT o_orderpriority, COUNT(*) AS order_count
FROM orders
WHERE o_orderdate >= DATE '1993-07-01' AND o_orderdate < DATE '1993-07-01' + INTERVAL '3' MONTH
  AND EXISTS (SELECT * FROM lineitem WHERE l_orderkey = o_orderkey AND l_commitdate < l_receiptdate)
GROUP BY o_orderpriority
ORDER BY o_orderpriority
""",
    "q05": """
SELECT n_name, SUM(l_extendedprice * (1 - l_discount)) AS revenue
FROM customer, orders, lineitem, supplier, nation, region
WHERE c_custkey = o_custkey AND l_orderkey = o_orderkey AND l_suppkey = s_suppkey
  AND c_nationkey = s_nationkey AND s_nationkey = n_nationkey AND n_regionkey = r_regionkey
  AND r_name = 'ASIA' AND o_orderdate >= DATE '1994-01-01'
  AND o_orderdate < DATE '1994-01-01' + INTERVAL '1' YEAR
GROUP BY n_name
ORDER BY revenue DESC
""",
    "q06": """
SELECT SUM(l_extendedprice * l_discount) AS revenue
FROM lineitem
WHERE l_shipdate >= DATE '1994-01-01' AND l_shipdate < DATE '1994-01-01' + INTERVAL '1' YEAR
  AND l_discount BETWEEN 0.06 - 0.01 AND 0.06 + 0.01 AND l_quantity < 24
""",
    "q07": """
SELECT supp_nation, cust_nation, l_year, SUM(volume) AS revenue
FROM (
    SELECT n1.n_name AS supp_nation, n2.n_name AS cust_nation, EXTRACT(YEAR FROM l_shipdate) AS l_year,
           l_extendedprice * (1 - l_discount) AS volume
    FROM supplier, lineitem, orders, customer, nation n1, nation n2
    WHERE s_suppkey = l_suppkey AND o_orderkey = l_orderkey AND c_custkey = o_custkey
      AND s_nationkey = n1.n_nationkey AND c_nationkey = n2.n_nationkey
      AND ((n1.n_name = 'FRANCE' AND n2.n_name = 'GERMANY') OR (n1.n_name = 'GERMANY' AND n2.n_name = 'FRANCE'))
      AND l_shipdate BETWEEN DATE '1995-01-01' AND DATE '1996-12-31'
) AS shipping
GROUP BY supp_nation, cust_nation, l_year
ORDER BY supp_nation, cust_nation, l_year
""",
    "q08": """
SELECT o_year, SUM(CASE WHEN nation = 'BRAZIL' THEN volume ELSE 0 END) / SUM(volume) AS mkt_share
FROM (
    SELECT EXTRACT(YEAR FROM o_orderdate) AS o_year, l_extendedprice * (1 - l_discount) AS volume,
           n2.n_name AS nation
    FROM part, supplier, lineitem, orders, customer, nation n1, nation n2, region
    WHERE p_partkey = l_partkey AND s_suppkey = l_suppkey AND l_orderkey = o_orderkey
      AND o_custkey = c_custkey AND c_nationkey = n1.n_nationkey AND n1.n_regionkey = r_regionkey
      AND r_name = 'AMERICA' AND s_nationkey = n2.n_nationkey
      AND o_orderdate BETWEEN DATE '1995-01-01' AND DATE '1996-12-31' AND p_type = 'ECONOMY ANODIZED STEEL'
) AS all_nations
GROUP BY o_year
ORDER BY o_year
""",
    "q09": """
SELECT nation, o_year, SUM(amount) AS sum_profit
FROM (
    SELECT n_name AS nation, EXTRACT(YEAR FROM o_orderdate) AS o_year,
           l_extendedprice * (1 - l_discount) - ps_supplycost * l_quantity AS amount
    FROM part, supplier, lineitem, partsupp, orders, nation
    WHERE s_suppkey = l_suppkey AND ps_suppkey = l_suppkey AND ps_partkey = l_partkey
      AND p_partkey = l_partkey AND o_orderkey = l_orderkey AND s_nationkey = n_nationkey
      AND p_name LIKE '%green%'
) AS profit
GROUP BY nation, o_year
ORDER BY nation, o_year DESC
""",
    "q10": """
SELECT c_custkey, c_name, SUM(l_extendedprice * (1 - l_discount)) AS revenue, c_acctbal, n_name,
       c_address, c_phone, c_comment
FROM customer, orders, lineitem, nation
WHERE c_custkey = o_custkey AND l_orderkey = o_orderkey AND o_orderdate >= DATE '1993-10-01'
  AND o_orderdate < DATE '1993-10-01' + INTERVAL '3' MONTH AND l_returnflag = 'R'
  AND c_nationkey = n_nationkey
GROUP BY c_custkey, c_name, c_acctbal, c_phone, n_name, c_address, c_comment
ORDER BY revenue DESC, c_custkey
LIMIT 20
""",
    "q11": """
SELECT ps_partkey, SUM(ps_supplycost * ps_availqty) AS value
FROM partsupp, supplier, nation
WHERE ps_suppkey = s_suppkey AND s_nationkey = n_nationkey AND n_name = 'GERMANY'
GROUP BY ps_partkey
HAVING SUM(ps_supplycost * ps_availqty) > (
    SELECT SUM(ps_supplycost * ps_availqty) * 0.0001
    FROM partsupp, supplier, nation
    WHERE ps_suppkey = s_suppkey AND s_nationkey = n_nationkey AND n_name = 'GERMANY')
ORDER BY value DESC, ps_partkey
""",
    "q12": """
SELECT l_shipmode,
       SUM(CASE WHEN o_orderpriority = '1-URGENT' OR o_orderpriority = '2-HIGH' THEN 1 ELSE 0 END)
           AS high_line_count,
       SUM(CASE WHEN o_orderpriority <> '1-URGENT' AND o_orderpriority <> '2-HIGH' THEN 1 ELSE 0 END)
           AS low_line_count
FROM orders, lineitem
WHERE o_orderkey = l_orderkey AND l_shipmode IN ('MAIL', 'SHIP') AND l_commitdate < l_receiptdate
  AND l_shipdate < l_commitdate AND l_receiptdate >= DATE '1994-01-01'
  AND l_receiptdate < DATE '1994-01-01' + INTERVAL '1' YEAR
GROUP BY l_shipmode
ORDER BY l_shipmode
""",
    "q13": """
SELECT c_count, COUNT(*) AS custdist
FROM (
    SELECT c_custkey, COUNT(o_orderkey) AS c_count
    FROM customer LEFT OUTER JOIN orders ON c_custkey = o_custkey AND o_comment NOT LIKE '%special%requests%'
    GROUP BY c_custkey
) AS c_orders
GROUP BY c_count
ORDER BY custdist DESC, c_count DESC
""",
    "q14": """
SELECT 100.00 * SUM(CASE WHEN p_type LIKE 'PROMO%' THEN l_extendedprice * (1 - l_discount) ELSE 0 END)
       / SUM(l_extendedprice * (1 - l_discount)) AS promo_revenue
FROM lineitem, part
WHERE l_partkey = p_partkey AND l_shipdate >= DATE '1995-09-01'
  AND l_shipdate < DATE '1995-09-01' + INTERVAL '1' MONTH
""",
    "q15": """
WITH revenue0 AS (
    SELECT l_suppkey AS supplier_no, SUM(l_extendedprice * (1 - l_discount)) AS total_revenue
    FROM lineitem
    WHERE l_shipdate >= DATE '1996-01-01' AND l_shipdate < DATE '1996-01-01' + INTERVAL '3' MONTH
    GROUP BY l_suppkey
)
SELECT s_suppkey, s_name, s_address, s_phone, total_revenue
FROM supplier, revenue0
WHERE s_suppkey = supplier_no AND total_revenue = (SELECT MAX(total_revenue) FROM revenue0)
ORDER BY s_suppkey
""",
    "q16": """
SELECT p_brand, p_type, p_size, COUNT(DISTINCT ps_suppkey) AS supplier_cnt
FROM partsupp, part
WHERE p_partkey = ps_partkey AND p_brand <> 'Brand#45' AND p_type NOT LIKE 'MEDIUM POLISHED%'
  AND p_size IN (49, 14, 23, 45, 19, 3, 36, 9)
  AND ps_suppkey NOT IN (SELECT s_suppkey FROM supplier WHERE s_comment LIKE '%Customer%Complaints%')
GROUP BY p_brand, p_type, p_size
ORDER BY supplier_cnt DESC, p_brand, p_type, p_size
""",
    "q17": """
SELECT SUM(l_extendedprice) / 7.0 AS avg_yearly
FROM lineitem, part
WHERE p_partkey = l_partkey AND p_brand = 'Brand#23' AND p_container = 'MED BOX'
  AND l_quantity < (SELECT 0.2 * AVG(l_quantity) FROM lineitem WHERE l_partkey = p_partkey)
""",
    "q18": """
SELECT c_name, c_custkey, o_orderkey, o_orderdate, o_totalprice, SUM(l_quantity) AS sum_qty
FROM customer, orders, lineitem
WHERE o_orderkey IN (SELECT l_orderkey FROM lineitem GROUP BY l_orderkey HAVING SUM(l_quantity) > 300)
  AND c_custkey = o_custkey AND o_orderkey = l_orderkey
GROUP BY c_name, c_custkey, o_orderkey, o_orderdate, o_totalprice
ORDER BY o_totalprice DESC, o_orderdate, o_orderkey
LIMIT 100
""",
    "q19": """
SELECT SUM(l_extendedprice * (1 - l_discount)) AS revenue
FROM lineitem, part
WHERE (p_partkey = l_partkey AND p_brand = 'Brand#12'
       AND p_container IN ('SM CASE', 'SM BOX', 'SM PACK', 'SM PKG') AND l_quantity >= 1
       AND l_quantity <= 1 + 10 AND p_size BETWEEN 1 AND 5 AND l_shipmode IN ('AIR', 'AIR REG')
       AND l_shipinstruct = 'DELIVER IN PERSON')
   OR (p_partkey = l_partkey AND p_brand = 'Brand#23'
       AND p_container IN ('MED BAG', 'MED BOX', 'MED PKG', 'MED PACK') AND l_quantity >= 10
       AND l_quantity <= 10 + 10 AND p_size BETWEEN 1 AND 10 AND l_shipmode IN ('AIR', 'AIR REG')
       AND l_shipinstruct = 'DELIVER IN PERSON')
   OR (p_partkey = l_partkey AND p_brand = 'Brand#34'
       AND p_container IN ('LG CASE', 'LG BOX', 'LG PACK', 'LG PKG') AND l_quantity >= 20
       AND l_quantity <= 20 + 10 AND p_size BETWEEN 1 AND 15 AND l_shipmode IN ('AIR', 'AIR REG')
       AND l_shipinstruct = 'DELIVER IN PERSON')
""",
    "q20": """
SELECT s_name, s_address
FROM supplier, nation
WHERE s_suppkey IN (
    SELECT ps_suppkey FROM partsupp
    WHERE ps_partkey IN (SELECT p_partkey FROM part WHERE p_name LIKE 'forest%')
      AND ps_availqty > (
          SELECT 0.5 * SUM(l_quantity) FROM lineitem
          WHERE l_partkey = ps_partkey AND l_suppkey = ps_suppkey AND l_shipdate >= DATE '1994-01-01'
            AND l_shipdate < DATE '1994-01-01' + INTERVAL '1' YEAR))
  AND s_nationkey = n_nationkey AND n_name = 'CANADA'
ORDER BY s_name
""",
    "q21": """
SELECT s_name, COUNT(*) AS numwait
FROM supplier, lineitem l1, orders, nation
WHERE s_suppkey = l1.l_suppkey AND o_orderkey = l1.l_orderkey AND o_orderstatus = 'F'
  AND l1.l_receiptdate > l1.l_commitdate
  AND EXISTS (SELECT * FROM lineitem l2 WHERE l2.l_orderkey = l1.l_orderkey AND l2.l_suppkey <> l1.l_suppkey)
  AND NOT EXISTS (SELECT * FROM lineitem l3 WHERE l3.l_orderkey = l1.l_orderkey
                  AND l3.l_suppkey <> l1.l_suppkey AND l3.l_receiptdate > l3.l_commitdate)
  AND s_nationkey = n_nationkey AND n_name = 'SAUDI ARABIA'
GROUP BY s_name
ORDER BY numwait DESC, s_name
LIMIT 100
""",
    "q22": """
SELECT cntrycode, COUNT(*) AS numcust, SUM(c_acctbal) AS totacctbal
FROM (
    SELECT SUBSTRING(c_phone, 1, 2) AS cntrycode, c_acctbal
    FROM customer
    WHERE SUBSTRING(c_phone, 1, 2) IN ('13', '31', '23', '29', '30', '18', '17')
      AND c_acctbal > (SELECT AVG(c_acctbal) FROM customer WHERE c_acctbal > 0.00
                       AND SUBSTRING(c_phone, 1, 2) IN ('13', '31', '23', '29', '30', '18', '17'))
      AND NOT EXISTS (SELECT * FROM orders WHERE o_custkey = c_custkey)
) AS custsale
GROUP BY cntrycode
ORDER BY cntrycode
""",
}

TABLES = ("region", "nation", "supplier", "customer", "part", "partsupp", "orders", "lineitem")

_REGIONS = ["AFRICA", "AMERICA", "ASIA", "EUROPE", "MIDDLE EAST"]
_NATIONS = [("ALGERIA", 0), ("ARGENTINA", 1), ("BRAZIL", 1), ("CANADA", 1), ("EGYPT", 4), ("ETHIOPIA", 0),
            ("FRANCE", 3), ("GERMANY", 3), ("INDIA", 2), ("INDONESIA", 2), ("IRAN", 4), ("IRAQ", 4),
            ("JAPAN", 2), ("JORDAN", 4), ("KENYA", 0), ("MOROCCO", 0), ("MOZAMBIQUE", 0), ("PERU", 1),
            ("CHINA", 2), ("ROMANIA", 3), ("SAUDI ARABIA", 4), ("VIETNAM", 2), ("RUSSIA", 3),
            ("UNITED KINGDOM", 3), ("UNITED STATES", 1)]
_TYPE_1 = ["STANDARD", "SMALL", "MEDIUM", "LARGE", "ECONOMY", "PROMO"]
_TYPE_2 = ["ANODIZED", "BURNISHED", "PLATED", "POLISHED", "BRUSHED"]
_TYPE_3 = ["TIN", "NICKEL", "BRASS", "STEEL", "COPPER"]
_CONTAINER_1 = ["SM", "LG", "MED", "JUMBO", "WRAP"]
_CONTAINER_2 = ["CASE", "BOX", "BAG", "JAR", "PKG", "PACK", "CAN", "DRUM"]
_COLORS = ["almond", "antique", "aquamarine", "azure", "beige", "forest", "green", "khaki", "lace", "navy"]
_SEGMENTS = ["AUTOMOBILE", "BUILDING", "FURNITURE", "MACHINERY", "HOUSEHOLD"]
_PRIORITIES = ["1-URGENT", "2-HIGH", "3-MEDIUM", "4-NOT SPECIFIED", "5-LOW"]
_SHIPMODES = ["REG AIR", "AIR", "RAIL", "SHIP", "TRUCK", "MAIL", "FOB"]
_INSTRUCTIONS = ["DELIVER IN PERSON", "COLLECT COD", "NONE", "TAKE BACK RETURN"]
_WORDS = ["special", "requests", "Customer", "Complaints", "carefully", "final", "deposits", "quickly"]


def generate(directory: Path, scale: float = 0.01, seed: int = 42) -> dict[str, Path]:
    """Write one Parquet file per TPC-H table under ``directory``; returns table name -> file.

    ``scale`` is the TPC-H scale factor (1.0 = 6M lineitem rows); 0.01 writes ~60k lineitem rows.
    """
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    n_supp, n_cust, n_part = max(int(10_000 * scale), 20), max(int(150_000 * scale), 50), max(int(200_000 * scale), 50)
    n_orders = max(int(1_500_000 * scale), 100)

    def pick(values: list[str], n: int) -> Any:
        return np.asarray(values, dtype=object)[rng.integers(0, len(values), n)]

    def comments(n: int) -> list[str]:
        return [" ".join(row) for row in pick(_WORDS, n * 3).reshape(n, 3)]

    def phones(nations: Any) -> list[str]:
        return [f"{10 + k}-{rng.integers(100, 999)}-{rng.integers(100, 999)}-{rng.integers(1000, 9999)}"
                for k in nations]

    frames: dict[str, pl.DataFrame] = {}
    frames["region"] = pl.DataFrame({"r_regionkey": np.arange(5, dtype="int64"), "r_name": _REGIONS,
                                     "r_comment": comments(5)})
    frames["nation"] = pl.DataFrame({"n_nationkey": np.arange(25, dtype="int64"),
                                     "n_name": [n for n, _ in _NATIONS],
                                     "n_regionkey": np.array([r for _, r in _NATIONS], dtype="int64"),
                                     "n_comment": comments(25)})
    supp_nation = rng.integers(0, 25, n_supp)
    frames["supplier"] = pl.DataFrame({
        "s_suppkey": np.arange(1, n_supp + 1, dtype="int64"),
        "s_name": [f"Supplier#{i:09d}" for i in range(1, n_supp + 1)],
        "s_address": [f"addr {i}" for i in range(n_supp)], "s_nationkey": supp_nation.astype("int64"),
        "s_phone": phones(supp_nation), "s_acctbal": np.round(rng.uniform(-999.99, 9999.99, n_supp), 2),
        "s_comment": comments(n_supp)})
    cust_nation = rng.integers(0, 25, n_cust)
    frames["customer"] = pl.DataFrame({
        "c_custkey": np.arange(1, n_cust + 1, dtype="int64"),
        "c_name": [f"Customer#{i:09d}" for i in range(1, n_cust + 1)],
        "c_address": [f"addr {i}" for i in range(n_cust)], "c_nationkey": cust_nation.astype("int64"),
        "c_phone": phones(cust_nation), "c_acctbal": np.round(rng.uniform(-999.99, 9999.99, n_cust), 2),
        "c_mktsegment": pick(_SEGMENTS, n_cust), "c_comment": comments(n_cust)})
    types = [f"{a} {b} {c}" for a, b, c in zip(pick(_TYPE_1, n_part), pick(_TYPE_2, n_part), pick(_TYPE_3, n_part),
                                                strict=True)]
    frames["part"] = pl.DataFrame({
        "p_partkey": np.arange(1, n_part + 1, dtype="int64"),
        "p_name": [f"{a} {b}" for a, b in zip(pick(_COLORS, n_part), pick(_COLORS, n_part), strict=True)],
        "p_mfgr": [f"Manufacturer#{k}" for k in rng.integers(1, 6, n_part)],
        "p_brand": [f"Brand#{a}{b}"
                    for a, b in zip(rng.integers(1, 6, n_part), rng.integers(1, 6, n_part), strict=True)],
        "p_type": types, "p_size": rng.integers(1, 51, n_part).astype("int64"),
        "p_container": [f"{a} {b}"
                        for a, b in zip(pick(_CONTAINER_1, n_part), pick(_CONTAINER_2, n_part), strict=True)],
        "p_retailprice": np.round(rng.uniform(900, 2000, n_part), 2), "p_comment": comments(n_part)})
    ps_part = np.repeat(np.arange(1, n_part + 1, dtype="int64"), 4)
    ps_supp = (ps_part + np.tile(np.arange(4), n_part) * (n_supp // 4 + 1)) % n_supp + 1
    frames["partsupp"] = pl.DataFrame({
        "ps_partkey": ps_part, "ps_suppkey": ps_supp.astype("int64"),
        "ps_availqty": rng.integers(1, 10_000, len(ps_part)).astype("int64"),
        "ps_supplycost": np.round(rng.uniform(1, 1000, len(ps_part)), 2), "ps_comment": comments(len(ps_part))})
    start = np.datetime64("1992-01-01")
    order_dates = start + rng.integers(0, 2405, n_orders).astype("timedelta64[D]")
    frames["orders"] = pl.DataFrame({
        "o_orderkey": np.arange(1, n_orders + 1, dtype="int64"),
        "o_custkey": rng.integers(1, n_cust + 1, n_orders).astype("int64"),
        "o_orderstatus": pick(["F", "O", "P"], n_orders),
        "o_totalprice": np.round(rng.uniform(800, 500_000, n_orders), 2),
        "o_orderdate": order_dates, "o_orderpriority": pick(_PRIORITIES, n_orders),
        "o_clerk": [f"Clerk#{k:09d}" for k in rng.integers(1, 1000, n_orders)],
        "o_shippriority": np.zeros(n_orders, dtype="int64"), "o_comment": comments(n_orders),
    }).with_columns(pl.col("o_orderdate").cast(pl.Date))
    lines = rng.integers(1, 8, n_orders)
    l_order = np.repeat(np.arange(1, n_orders + 1, dtype="int64"), lines)
    n_lines = len(l_order)
    l_part = rng.integers(1, n_part + 1, n_lines).astype("int64")
    l_supp = (l_part + rng.integers(0, 4, n_lines) * (n_supp // 4 + 1)) % n_supp + 1
    quantity = rng.integers(1, 51, n_lines).astype("float64")
    ship = np.repeat(order_dates, lines) + rng.integers(1, 122, n_lines).astype("timedelta64[D]")
    frames["lineitem"] = pl.DataFrame({
        "l_orderkey": l_order, "l_partkey": l_part, "l_suppkey": l_supp.astype("int64"),
        "l_linenumber": np.concatenate([np.arange(1, k + 1) for k in lines]).astype("int64"),
        "l_quantity": quantity, "l_extendedprice": np.round(quantity * rng.uniform(900, 2000, n_lines), 2),
        "l_discount": np.round(rng.integers(0, 11, n_lines) / 100, 2),
        "l_tax": np.round(rng.integers(0, 9, n_lines) / 100, 2),
        "l_returnflag": pick(["A", "N", "R"], n_lines), "l_linestatus": pick(["F", "O"], n_lines),
        "l_shipdate": ship, "l_commitdate": np.repeat(order_dates, lines) + rng.integers(30, 91, n_lines).astype(
            "timedelta64[D]"),
        "l_receiptdate": ship + rng.integers(1, 31, n_lines).astype("timedelta64[D]"),
        "l_shipinstruct": pick(_INSTRUCTIONS, n_lines), "l_shipmode": pick(_SHIPMODES, n_lines),
        "l_comment": comments(n_lines),
    }).with_columns(pl.col("l_shipdate", "l_commitdate", "l_receiptdate").cast(pl.Date))
    files = {}
    for name in TABLES:
        path = directory / f"{name}.parquet"
        frames[name].write_parquet(path)
        files[name] = path
    return files
