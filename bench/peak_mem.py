#!/usr/bin/env python3
"""bench/peak_mem.py CMD...: runs CMD and prints "<seconds> <peak RSS MB>
<peak anonymous MB>" on stderr's last line (and to --out FILE).

Peak RSS counts the pages of files mapped into the process, such as an
LMDB file read through its memory map: the kernel drops those clean pages
when memory is needed. The anonymous peak (RssAnon, sampled every 10 ms) is
the memory the process itself allocated: the figure a bounded-memory claim
is about."""
import os
import resource
import subprocess
import sys
import time


def rss_anon_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def main() -> int:
    args = sys.argv[1:]
    out = None
    if args[:1] == ["--out"]:
        out, args = args[1], args[2:]
    start = time.monotonic()
    p = subprocess.Popen(args)
    peak_anon = 0
    while p.poll() is None:
        peak_anon = max(peak_anon, rss_anon_kb(p.pid))
        time.sleep(0.01)
    secs = time.monotonic() - start
    peak_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    line = f"{secs:.2f} {peak_rss // 1024} {peak_anon // 1024}"
    if out:
        with open(out, "w") as f:
            f.write(line + "\n")
    print(line, file=sys.stderr)
    return p.returncode


if __name__ == "__main__":
    sys.exit(main())
