"""Benchmark: generate the full-size synthetic ICS and report time, memory and throughput.

570,000 people over 3 years with 2 worker processes into a temporary folder (deleted after).
Peak memory is the largest sum of resident set sizes over this process and all its
descendants, sampled every 0.2 s from /proc (Linux); ``ru_maxrss`` of this process and of
its largest child are reported too. Prints one JSON object.

    .venv/bin/python benchmarks/synth_full.py [--people N] [--years Y] [--workers W]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import tempfile
import threading
import time
from pathlib import Path

from joinedup.directory.loader import load_directory
from joinedup.settings import DEFAULT_DIRECTORY
from joinedup.synthetic import generate_ics


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as handle:
            return [int(c) for c in handle.read().split()]
    except OSError:
        return []


def _rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class TreeMemorySampler(threading.Thread):
    """Samples the summed RSS of a process tree and keeps the peak."""

    def __init__(self, root: int, interval: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.root = root
        self.interval = interval
        self.peak_kib = 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            pids = [self.root]
            total = 0
            while pids:
                pid = pids.pop()
                total += _rss_kib(pid)
                pids.extend(_children(pid))
            self.peak_kib = max(self.peak_kib, total)
            self._halt.wait(self.interval)

    def stop(self) -> None:
        self._halt.set()
        self.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=570_000)
    parser.add_argument("--years", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()

    directory = load_directory(DEFAULT_DIRECTORY)
    folder = Path(tempfile.mkdtemp(prefix="joinedup-synth-bench-"))
    sampler = TreeMemorySampler(os.getpid())
    sampler.start()
    began = time.perf_counter()
    try:
        summary = generate_ics(
            directory=directory,
            people=args.people,
            seed=args.seed,
            years=args.years,
            out=folder / "ics",
            workers=args.workers,
        )
        seconds = time.perf_counter() - began
        size = sum(p.stat().st_size for p in (folder / "ics").rglob("*") if p.is_file())
    finally:
        sampler.stop()
        shutil.rmtree(folder, ignore_errors=True)
    result = {
        "people": args.people,
        "years": args.years,
        "workers": args.workers,
        "seconds": round(seconds, 1),
        "peak_tree_rss_mib": round(sampler.peak_kib / 1024, 1),
        # CPU time is steadier than wall time on a shared machine: report both.
        "cpu_seconds": round(
            sum(
                getattr(resource.getrusage(who), field)
                for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
                for field in ("ru_utime", "ru_stime")
            ),
            1,
        ),
        "max_rss_self_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "max_rss_largest_child_mib": round(
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1
        ),
        "output_gib": round(size / 2**30, 2),
        "files": summary.files,
        "records": summary.records,
        "fhir_resources": summary.fhir_resources,
        "records_per_second": summary.records_per_second(),
        "fhir_resources_per_second": round(summary.fhir_resources / seconds, 1),
        "load_average_1min_at_end": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
