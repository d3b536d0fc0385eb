"""Per-test summary of a tempest subunit v2 stream (scripts/conformance/lib.sh).

usage: summary.py RESULTS.subunit SELECTED.txt FAILED_OUT
                  [--status FILE] [--details FILE]
                  [--baseline PEER.subunit[.gz] ...] [--regressions FILE]

Counts are per selected test: a test whose class fixture (setUpClass) was skipped
or failed counts as skipped or failed itself; a selected test that never ran (the
run timed out) counts as failed. Prints "PASSED FAILED SKIPPED" on the first line.

--status       one line per selected test: STATUS<TAB>TEST_ID<TAB>NOTE (skip reason,
               failure's last traceback line, "setUpClass fail", "not run", ...)
--details      the traceback of every failed test and class fixture
--log          tempest.log (INFO request lines): --details also lists each failed
               test's requests answered with a 4xx/5xx (expected 403s of RBAC
               checks included)
--baseline     the reference peer's streams of the same suite (gzip or not; several
               streams are merged: a test passed on the peer if it passed in any).
               Prints a second line: "PEER_PASSED_IN_SELECTION OF_THEM_PASSED_HERE
               REGRESSIONS PASSED_HERE_NOT_ON_PEER" (over the selection only)
--regressions  the selected tests the peer passed and this run did not, with why
"""
import argparse
import collections
import gzip
import re
import sys

import subunit
import testtools

TERMINAL = ("success", "fail", "skip", "xfail", "uxsuccess")
NORM = {"success": "pass", "xfail": "pass", "skip": "skip", "fail": "fail", "uxsuccess": "fail"}


def read_stream(path):
    """-> (final status per test id, ids that started, attachments per (id, name))"""
    final, starts, files = {}, set(), collections.defaultdict(bytearray)

    class Collector(testtools.StreamResult):
        def status(self, test_id=None, test_status=None, file_name=None, file_bytes=None, **kw):
            if not test_id:
                return
            if file_name in ("traceback", "reason") and file_bytes:
                files[(test_id, file_name)] += file_bytes
            if test_status == "inprogress":
                starts.add(test_id)
            elif test_status in TERMINAL:
                final[test_id] = test_status

    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        r = Collector()
        r.startTestRun()
        try:
            subunit.ByteStreamToStreamResult(f, non_subunit_name="stdout").run(r)
        except Exception as e:  # a truncated stream from a timed-out run
            print(f"# warning: subunit stream {path} ended abnormally: {e}", file=sys.stderr)
        r.stopTestRun()
    return final, starts, files


def bare(test_id):
    """test id without its [attributes]"""
    return test_id.split("[")[0]


def last_line(text, n=1):
    lines = [l.strip() for l in text.strip().splitlines() if l.strip()]
    return " | ".join(lines[-n:])[:400]


def error_requests(log_path):
    """'Class:method' -> the tempest.log request lines of that test with status >= 400"""
    out = collections.defaultdict(list)
    if not log_path:
        return out
    pat = re.compile(r"Request \(([^)]*)\): ([45]\d\d) ([A-Z]+) (\S+)")
    with open(log_path, errors="replace") as f:
        for line in f:
            m = pat.search(line)
            if m:
                out[m.group(1)].append(f"{m.group(2)} {m.group(3)} {m.group(4)}")
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("results")
    ap.add_argument("selected")
    ap.add_argument("failed_out")
    ap.add_argument("--status")
    ap.add_argument("--details")
    ap.add_argument("--log")
    ap.add_argument("--baseline", action="append", default=[])
    ap.add_argument("--regressions")
    a = ap.parse_args()

    final, starts, files = read_stream(a.results)

    def text(test_id, name):
        return files.get((test_id, name), b"").decode("utf-8", "replace")

    fixture = {}  # class -> (status of its setUpClass, its test id)
    status = {}   # test id -> (pass/fail/skip, note)
    for t, s in final.items():
        m = re.match(r"setUpClass \((.*)\)$", t)
        if m:
            fixture[m.group(1)] = (NORM[s], t)
        elif s == "skip":
            status[t] = ("skip", last_line(text(t, "reason")))
        elif NORM[s] == "fail":
            status[t] = ("fail", last_line(text(t, "traceback"), 2))
        else:
            status[t] = (NORM[s], "")
    for t in open(a.selected).read().split():
        if t in status:
            continue
        cls = bare(t).rsplit(".", 1)[0]
        if cls in fixture and fixture[cls][0] != "pass":
            fs, fid = fixture[cls]
            reason = text(fid, "reason" if fs == "skip" else "traceback")
            status[t] = (fs, f"setUpClass {fs}: {last_line(reason, 2 if fs == 'fail' else 1)}")
        elif t in starts:
            status[t] = ("fail", "unfinished")
        else:
            status[t] = ("fail", "not run")
    c = collections.Counter(s for s, _ in status.values())
    with open(a.failed_out, "w") as f:
        for t, (s, note) in sorted(status.items()):
            if s == "fail":
                f.write(t + ("  # " + note if note in ("unfinished", "not run")
                             or note.startswith("setUpClass") else "") + "\n")
    if a.status:
        with open(a.status, "w") as f:
            for t, (s, note) in sorted(status.items()):
                f.write(f"{s}\t{t}\t{note}\n")
    if a.details:
        errors = error_requests(a.log)
        with open(a.details, "w") as f:
            for t, s in sorted(final.items()):
                if NORM[s] != "fail":
                    continue
                f.write(f"===== {t}\n{text(t, 'traceback').rstrip()}\n")
                m = re.match(r"setUpClass \((.*)\)$", t)
                cls, _, meth = (m.group(1) + ".setUpClass" if m else bare(t)).rpartition(".")
                reqs = errors.get(cls.rsplit(".", 1)[-1] + ":" + meth, [])
                if reqs:
                    f.write("requests answered 4xx/5xx:\n" + "".join(f"  {r}\n" for r in reqs))
                f.write("\n")
    print(f"{c['pass']} {c['fail']} {c['skip']}")

    if a.baseline:
        peer_pass = set()
        for path in a.baseline:
            pf, _, _ = read_stream(path)
            peer_pass |= {bare(t) for t, s in pf.items() if NORM[s] == "pass"}
        here = {bare(t): v for t, v in status.items()}
        in_sel = sorted(t for t in here if t in peer_pass)
        regressions = [t for t in in_sel if here[t][0] != "pass"]
        beyond = [t for t, (s, _) in here.items() if s == "pass" and t not in peer_pass]
        if a.regressions:
            with open(a.regressions, "w") as f:
                for t in regressions:
                    s, note = here[t]
                    f.write(f"{t}  # here: {s}{': ' + note if note else ''}\n")
        print(f"{len(in_sel)} {len(in_sel) - len(regressions)} {len(regressions)} {len(beyond)}")


if __name__ == "__main__":
    main()
