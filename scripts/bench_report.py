"""The written half of scripts/bench.py: the targets, the machine the figures were
measured on, and BENCHMARKS.md with every figure beside its target."""

import os
import re
import sqlite3
import statistics
import subprocess
import sys
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# The targets are the (#7, "Targets (2 cores, scale 1, both databases)").
PAGE_P95_MS = 60  # p95 of each page class, and of the mix, at 16 concurrent connections
LOOKUP_P95_MS = 40  # p95 of type-ahead search (customers, products)
RATIO_TARGET = 0.25  # mixed-workload throughput / /healthz throughput of the same run
REPORT_MS = 300  # each report for a full year, aging over all customers (the median)
FLOW_TARGET_MS = 100  # server time of one quote-to-cash flow, PDF excluded (the median)
PDF_RATIO_TARGET = 1.2  # first invoice PDF rendering / bare WeasyPrint
RSS_TARGET_MB = 250  # peak RSS of a gunicorn worker
LOOKUPS = ("customer_lookup", "product_lookup")  # held to LOOKUP_P95_MS, the rest to PAGE_P95_MS

# Page classes: label, weight in the mixed run, roles whose users open them.
PAGES = {
    "customers": ("Customer list", 8, ("sales",)),
    "customer_search": ("Customer search", 8, ("sales",)),
    "customer": ("Customer page", 14, ("sales", "finance")),
    "board": ("Deal board", 6, ("sales",)),
    "deal": ("Deal page", 14, ("sales",)),
    "product_search": ("Product search", 6, ("operations", "sales")),
    "quote": ("Quote page", 8, ("sales",)),
    "order": ("Sales order page", 8, ("operations", "sales")),
    "invoice": ("Invoice page", 8, ("finance",)),
    "followups": ("Follow-ups", 6, ("sales",)),
    "dashboard": ("Dashboard", 6, ("sales", "finance", "operations")),
    "customer_lookup": ("Type-ahead: customers", 4, ("sales",)),
    "product_lookup": ("Type-ahead: products", 4, ("sales", "operations")),
}


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", flush=True)


def percentile(values, p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f} ms"


def verdict(ok: bool) -> str:
    return "pass" if ok else "**miss**"


# --- The machine and the report ----------------------------------------------------------


def machine(args) -> dict:
    cpu = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M)
    mem = int(re.search(r"^MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
    os_name = re.search(r'^PRETTY_NAME="?([^"\n]+)', Path("/etc/os-release").read_text(), re.M)

    def out(*cmd: str) -> str:
        try:
            return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT).stdout.strip()
        except OSError:
            return ""

    import gunicorn
    import weasyprint

    info = {
        "CPU": cpu.group(1) if cpu else "unknown",
        "Cores": str(os.cpu_count()),
        "RAM": f"{mem / 1024 / 1024:.1f} GiB",
        "OS": f"{os_name.group(1) if os_name else 'Linux'}, kernel {os.uname().release}",
        "Python": sys.version.split()[0],
        "SQLite": sqlite3.sqlite_version,
        "PostgreSQL": "not run",
        "gunicorn": f"{gunicorn.__version__}, {args.workers} sync workers",
        "WeasyPrint": weasyprint.__version__,
        "Load tool": f"{out('wrk', '-v').splitlines()[0].split(' [')[0] if out('wrk', '-v') else 'wrk'}"
        f", 1 thread, {args.connections} connections",
        "Date": f"{datetime.now():%Y-%m-%d %H:%M}",
        "Commit": out("git", "rev-parse", "--short", "HEAD")
        + (
            " (with uncommitted changes)"
            # the report itself, left from an earlier run, is not a change to what runs
            if out("git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                   ":!BENCHMARKS.md")
            else ""
        ),
    }
    return info


NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


def table(header: str, rows: list[list]) -> list[str]:
    """A markdown table; `header` is "name:align|..." with l or r per column."""
    names, aligns = zip(*(column.split(":") for column in header.split("|")), strict=True)
    rule = "|".join("---:" if a == "r" else "---" for a in aligns)
    return (
        [f"| {' | '.join(names)} |", f"|{rule}|"]
        + [f"| {' | '.join(str(cell) for cell in row)} |" for row in rows]
        + [""]
    )


def p95_target_ms(key: str) -> int:
    return LOOKUP_P95_MS if key in LOOKUPS else PAGE_P95_MS


def before_and_after(path: Path) -> str:
    """The hand-written section of the report already at `path`, verbatim: from the line
    `## Before and after` up to the next `## ` line or the end; a placeholder if none."""
    lines = path.read_text().splitlines(keepends=True) if path.exists() else []
    for start, line in enumerate(lines):
        if line.rstrip("\r\n") == "## Before and after":
            end = next(
                (i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")),
                len(lines),
            )
            section = "".join(lines[start:end])
            return section if section.endswith("\n") else section + "\n"
    return "## Before and after\n\n_(maintained by hand: figures before and after each fix)_\n"


def mix_bound(r: dict, h: dict) -> str:
    """The most the mix could serve if every page class cost what the cheapest page of
    the run did (and every type-ahead the cheapest type-ahead): its weights over those
    rates. No mix of these pages reaches more without pages cheaper than any measured."""
    measured = {k: x for k, x in r["pages"].items() if x and k in PAGES}
    pages = {k: x["rps"] for k, x in measured.items() if k not in LOOKUPS}
    lookups = {k: x["rps"] for k, x in measured.items() if k in LOOKUPS}
    if not pages:
        return ""
    page = max(pages, key=pages.get)
    best = {k: (max(lookups.values()) if k in lookups else pages[page]) for k in measured}
    weight = sum(PAGES[k][1] for k in measured)
    bound = weight / sum(PAGES[k][1] / best[k] for k in measured)
    verdict = ("below" if bound < RATIO_TARGET * h["rps"] else "at or above")
    return (
        f" Were every page as cheap as the cheapest of the run ({PAGES[page][0]}, "
        f"{pages[page]:,.1f} req/s, {ms(measured[page]['cpu'])} of server CPU a request) and "
        "every type-ahead as the cheapest type-ahead, the mix by its weights would serve "
        f"at most {bound:,.0f} req/s: {bound / h['rps']:.1%} of /healthz, {verdict} "
        f"{RATIO_TARGET:.0%}."
    )


def reach(args, info: dict, results: list[dict]) -> list[str]:
    """What the run's own figures allow: Little's law with wrk's connections in flight,
    and the CPU a request that the cores can serve at a given latency."""
    cores, n = int(info["Cores"]), args.connections
    rows, lines = [], []
    for r in results:
        db, fit = NAMES[r["kind"]], {}
        for key, label in [
            ("healthz", "/healthz"),
            *((k, v[0]) for k, v in PAGES.items()),
            ("mixed", "**Mixed**"),
        ]:
            x = r["pages"].get(key) or r.get(key)
            if not x:
                continue
            cpu, load = x["cpu"], x.get("wrk_cpu", 0.0)
            target = None if key == "healthz" else p95_target_ms(key)
            budget = None if target is None else cores * target / 1000 / n - load
            ok = budget is not None and cpu <= budget
            if target is not None:
                fit[key] = ok
            rows.append(
                [
                    label,
                    db,
                    f"{x['rps']:,.1f}",
                    ms(n / x["rps"]),
                    ms(x["p50"]),
                    ms(cpu),
                    ms(load),
                    ms(n * (cpu + load) / cores),
                    ms(x["p95"]),
                    "—" if target is None else f"≤ {target} ms",
                    "—" if budget is None else ms(budget),
                    "—" if target is None else ("yes" if ok else "**no**"),
                ]
            )
        h = r["healthz"]
        mix_load = r["mixed"].get("wrk_cpu", 0.0)
        counts = "; ".join(
            f"{what}: {sum(fit[k] for k in keys)} of {len(keys)}"
            for what, keys in (
                ("page classes", [k for k in fit if k not in LOOKUPS and k != "mixed"]),
                ("type-ahead", [k for k in fit if k in LOOKUPS]),
                ("the mix", [k for k in fit if k == "mixed"]),
            )
        )
        lines.append(
            f"- {db}, server CPU a request within what the p95 target allows: {counts}. "
            f"{RATIO_TARGET:.0%} of /healthz "
            f"({RATIO_TARGET * h['rps']:,.0f} req/s) needs the mix at most "
            f"{ms(cores / (RATIO_TARGET * h['rps']) - mix_load)} of server CPU a request; "
            f"it took {ms(r['mixed']['cpu'])}." + mix_bound(r, h)
        )
    return [
        f"## What {n} connections on {cores} cores allow",
        "",
        f"wrk holds {n} requests in flight, so by Little's law the mean latency is {n} / "
        "throughput (the column mean, beside the measured median). With C the workers' CPU a request "
        f"and w wrk's own on the same cores, the server answers at most {cores} / (C + w) "
        f"requests a second, so the mean latency at {n} connections is at least "
        f"{n} × (C + w) / {cores}: the floor, before any wait on the database (PostgreSQL's "
        "own CPU is not in C), on other processes (load average above) or on scheduling. "
        f"A p95 of T ms is therefore out of reach unless C ≤ {cores} × T / {n} − w: "
        f"{ms(cores * PAGE_P95_MS / 1000 / n)} less w for {PAGE_P95_MS} ms, "
        f"{ms(cores * LOOKUP_P95_MS / 1000 / n)} less w for {LOOKUP_P95_MS} ms (the budget "
        "below), and less in practice, as a p95 lies above the mean.",
        "",
        *table(
            "page:l|database:l|req/s:r|mean, {n} / req/s:r|median:r|server CPU a request (C):r"
            "|wrk CPU a request (w):r|floor:r|p95:r|p95 target:l|C the target allows:r"
            "|C within it:l".replace("{n}", str(n)),
            rows,
        ),
        *lines,
        "",
    ]


def write_report(path: Path, info: dict, args, results: list[dict]) -> None:
    med = statistics.median
    kept = before_and_after(path)
    n = args.connections
    out = [
        "# Benchmarks",
        "",
        f"Written by `make bench` (`scripts/bench.py --scale {args.scale:g}`): every figure "
        f"is measured, none is asserted. The data is `seed-volume --scale {args.scale:g}`, "
        "a fresh copy of it for each database and run. The targets are the issue's (#7, "
        '"Targets (2 cores, scale 1, both databases)").',
        "",
        "## Machine",
        "",
        *table("what:l|value:l", list(info.items())),
        "## Data",
        "",
        *table(
            "database:l|" + "|".join(f"{name}:r" for name in results[0]["counts"]),
            [[NAMES[r["kind"]], *(f"{v:,}" for v in r["counts"].values())] for r in results],
        ),
    ]
    summary, pages, reports, flows, pdfs, memory = [], [], [], [], [], []
    for r in results:
        db, h, m = NAMES[r["kind"]], r["healthz"], r["mixed"]
        ratio = m["rps"] / h["rps"]
        f, p = r["flow"], r["pdf"]
        flow_med, flow_p95 = med(f["totals"]), percentile(f["totals"], 95)
        pdf_ratio = med(p["first"]) / med(p["bare"])
        peak = max(hwm for _, hwm, _ in r["memory"])
        slowest = max(r["reports"], key=lambda report: med(report[2]))
        classes = [k for k in PAGES if k not in LOOKUPS and k in r["pages"]]
        passed = [k for k in classes if r["pages"][k]["p95"] * 1000 <= PAGE_P95_MS]
        worst = max(classes, key=lambda k: r["pages"][k]["p95"])
        lookups = [k for k in LOOKUPS if k in r["pages"]]
        summary += [
            [
                f"Page classes with p95 ≤ {PAGE_P95_MS} ms at {n} connections (slowest: "
                f"{PAGES[worst][0]}, {ms(r['pages'][worst]['p95'])})",
                db,
                f"{len(passed)} of {len(classes)}",
                f"all {len(classes)}",
                verdict(len(passed) == len(classes)),
            ],
            [
                "Type-ahead search p95 ("
                + " / ".join(PAGES[k][0].split(": ")[-1] for k in lookups)
                + ")",
                db,
                " / ".join(ms(r["pages"][k]["p95"]) for k in lookups),
                f"each ≤ {LOOKUP_P95_MS} ms",
                verdict(all(r["pages"][k]["p95"] * 1000 <= LOOKUP_P95_MS for k in lookups)),
            ],
            [
                f"Mixed throughput / healthz ({m['rps']:,.1f} / {h['rps']:,.0f} req/s)",
                db,
                f"{ratio:.1%}",
                f"≥ {RATIO_TARGET:.0%}",
                verdict(ratio >= RATIO_TARGET),
            ],
            [
                f"Mixed p95 at {n} connections",
                db,
                ms(m["p95"]),
                f"≤ {PAGE_P95_MS} ms",
                verdict(m["p95"] * 1000 <= PAGE_P95_MS),
            ],
            [
                f"Slowest report for a full year, median ({slowest[0]}; worst run "
                f"{ms(max(slowest[2]))})",
                db,
                ms(med(slowest[2])),
                f"≤ {REPORT_MS:,} ms",
                verdict(med(slowest[2]) * 1000 <= REPORT_MS),
            ],
            [
                f"Quote to cash, server time per flow, PDF excluded, median (p95 {ms(flow_p95)})",
                db,
                ms(flow_med),
                f"≤ {FLOW_TARGET_MS} ms",
                verdict(flow_med * 1000 <= FLOW_TARGET_MS),
            ],
            [
                "Invoice PDF first download / bare WeasyPrint",
                db,
                f"{pdf_ratio:.2f}×",
                f"≤ {PDF_RATIO_TARGET}×",
                verdict(pdf_ratio <= PDF_RATIO_TARGET),
            ],
            [
                "Peak RSS of the largest gunicorn worker",
                db,
                f"{peak:,.0f} MB",
                f"≤ {RSS_TARGET_MB} MB",
                verdict(peak <= RSS_TARGET_MB),
            ],
        ]
        for key, (label, weight, _) in [
            ("healthz", ("/healthz", "—", ())),
            *PAGES.items(),
            ("mixed", ("**Mixed**", "100%", ())),
        ]:
            x = r["pages"].get(key) or r.get(key)
            if not x:
                continue
            target = None if key == "healthz" else p95_target_ms(key)
            share = x["rps"] / h["rps"]
            pages.append(
                [
                    label,
                    weight,
                    db,
                    f"{x['rps']:,.1f}",
                    f"{share:.1%}",
                    ms(x["p50"]),
                    ms(x["p95"]),
                    ms(x["p99"]),
                    "—" if target is None else f"≤ {target} ms",
                    "—" if target is None else verdict(x["p95"] * 1000 <= target),
                    f"≥ {RATIO_TARGET:.0%}" if key == "mixed" else "—",
                    verdict(share >= RATIO_TARGET) if key == "mixed" else "—",
                    ms(x["cpu"]),
                    x["errors"] + x["non2xx"],
                ]
            )
        for title, url, t in r["reports"]:
            reports.append(
                [
                    f"{title} (`{url}`)",
                    db,
                    ms(med(t)),
                    ms(max(t)),
                    f"≤ {REPORT_MS:,} ms",
                    verdict(med(t) * 1000 <= REPORT_MS),
                ]
            )
        flows.append(
            [
                db,
                f["n"],
                f["requests"],
                ms(flow_med),
                ms(flow_p95),
                f"≤ {FLOW_TARGET_MS} ms",
                verdict(flow_med * 1000 <= FLOW_TARGET_MS),
                ms(med(f["pages"])),
                ms(med(f["posts"])),
                ms(med(f["cpu"])),
            ]
        )
        pdfs.append(
            [
                db,
                len(p["first"]),
                f"{ms(med(p['first']))} / {ms(max(p['first']))}",
                f"{ms(med(p['bare']))} / {ms(max(p['bare']))}",
                f"{pdf_ratio:.2f}×",
                f"≤ {PDF_RATIO_TARGET}×",
                verdict(pdf_ratio <= PDF_RATIO_TARGET),
                ms(med(p["second"])),
            ]
        )
        memory += [
            [
                db,
                pid,
                f"{hwm:,.0f} MB",
                f"{rss:,.0f} MB",
                f"≤ {RSS_TARGET_MB} MB",
                verdict(hwm <= RSS_TARGET_MB),
            ]
            for pid, hwm, rss in r["memory"]
        ]
    loads = ", ".join(
        f"{NAMES[r['kind']]} {r['load']:.1f} before and {r['load_after']:.1f} after"
        for r in results
    )
    ran = [
        what
        for what, differs in (
            (f"scale {args.scale:g}", args.scale != 1),
            (f"{NAMES[args.databases[0]]} only", len(args.databases) == 1),
            (f"{info['Cores']} cores", info["Cores"] != "2"),
            (f"{n} connections", n != 16),
        )
        if differs
    ]
    out += [
        "## Against the targets",
        "",
        'The issue\'s "Targets (2 cores, scale 1, both databases)": every page listed p95 '
        f"≤ {PAGE_P95_MS} ms at 16 concurrent connections, type-ahead search p95 ≤ "
        f"{LOOKUP_P95_MS} ms, mixed-workload throughput ≥ {RATIO_TARGET:.0%} of the /healthz "
        f"ceiling measured in the same run, each report ≤ {REPORT_MS} ms for a full year "
        f"(aging over all customers), quote to cash ≤ {FLOW_TARGET_MS} ms of server time per "
        f"flow (PDF excluded), the first PDF rendering ≤ {PDF_RATIO_TARGET}× bare WeasyPrint, "
        f"a worker's RSS ≤ {RSS_TARGET_MB} MB. Reports and flows are judged on their median."
        + (f" This run differs from those conditions: {', '.join(ran)}." if ran else ""),
        "",
        *table("figure:l|database:l|measured:r|target:l|result:l", summary),
        "## Pages under load",
        "",
        f"gunicorn with {args.workers} sync workers (`gunicorn --workers {args.workers} "
        "--bind 127.0.0.1:PORT app:app`, DATABASE_URL and SECRET_KEY set) and wrk on the "
        f"same machine over loopback, {n} connections, after a "
        f"{args.warmup} s warm-up: one {args.page_seconds} s run per page class, then "
        f"{args.seconds} s of the mix (each class by its weight). Signed in: "
        + ", ".join(f"{count} {role}" for role, count in results[0]["users"].items())
        + f" users, turned over request by request; ids and search words are a random "
        f"sample of the data. Each page class and the mix are judged on their p95 (type-ahead "
        f"≤ {LOOKUP_P95_MS} ms, the rest ≤ {PAGE_P95_MS} ms); only the mix is also judged on "
        f"its share of /healthz on the same server, the ceiling (the other shares are for "
        f"information). Load average (1 min): {loads}.",
        "",
        *table(
            "page:l|weight:r|database:l|req/s:r|of healthz:r|median:r|p95:r|p99:r"
            "|p95 target:l|p95 result:l|of-healthz target:l|of-healthz result:l"
            "|server CPU a request:r|errors:r",
            pages,
        ),
        *reach(args, info, results),
        f"## Reports for a full year ({results[0]['year']})",
        "",
        f"Over HTTP as finance, one after the other, {args.report_runs} "
        f"run{'s' if args.report_runs != 1 else ''} each; judged "
        "on the median, the worst run shown. The aging report covers all customers.",
        "",
        *table("report:l|database:l|median:r|worst:r|target:l|result:l", reports),
        "## Quote to cash",
        "",
        "In-process through the real views (Flask test client; forms submitted as shown, "
        "with their CSRF token and one-time keys): the deal page, a new quote, three lines, "
        "marked sent, accepted, shipped, invoiced, posted and paid, as sales, operations "
        "and finance; every page a person opens on the way and every form they submit. "
        "Server time per flow, PDF excluded, judged on the median; CPU is this process's.",
        "",
        *table(
            "database:l|flows:r|requests per flow:r|median:r|p95:r|target:l|result:l"
            "|pages (median):r|posts (median):r|CPU (median):r",
            flows,
        ),
        "## Invoice PDF",
        "",
        "Posted invoices never downloaded before: the endpoint's first download (renders "
        "and archives into invoice_pdfs), WeasyPrint rendering the same HTML with the same "
        "stylesheet in the bench's process, then the endpoint again (the archived copy).",
        "",
        *table(
            "database:l|invoices:r|endpoint, first (median / worst):r"
            "|bare WeasyPrint (median / worst):r|ratio:r|target:l|result:l"
            "|archived (median):r",
            pdfs,
        ),
        "## Memory of the gunicorn workers",
        "",
        "VmHWM (peak) and VmRSS from /proc/PID/status of each worker after everything above.",
        "",
        *table("database:l|worker:r|peak RSS:r|RSS now:r|target:l|result:l", memory),
    ]
    path.write_text("\n".join(out).rstrip() + "\n\n" + kept)
