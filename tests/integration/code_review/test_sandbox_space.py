"""The sandbox's space limits, against hostile test scripts, for real: /tmp is memory the host pays
for, so it is no bigger than the run's memory limit; /workspace holds at most the disk limit in all
(not only per file); each holds a bounded number of files; nothing else in the sandbox can be
written, nor can the code mount a file system of its own; and the user is told which limit stopped
the run."""

from __future__ import annotations

import dataclasses
import tempfile
import threading
from pathlib import Path

import pytest

from app.steps import code_review as CR
from app.steps.sandbox import Limits, run_sandboxed
from tests.integration.code_review.conftest import git
from tests.support.fixtures import model_runtime

MB = 1024 * 1024
FILL = """import sys
where = sys.argv[1]
for i in range(int(sys.argv[2])):
    with open(f"{where}/fill-{i}", "wb") as f:
        f.write(b"x" * int(sys.argv[3]) * 1024 * 1024)
    print("wrote", i, flush=True)
"""


@pytest.fixture
def workdir():
    with tempfile.TemporaryDirectory(prefix="baton-sbx-test-") as root:
        work = Path(root) / "workspace"
        work.mkdir()
        (work / "fill.py").write_text(FILL)
        yield work


def host_shmem() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("Shmem:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no Shmem in /proc/meminfo")


class PeakShmem:
    """Samples the host's shared memory (tmpfs pages) while a run goes on, keeping the highest."""

    def __init__(self):
        self.baseline = self.peak = host_shmem()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self):
        while not self.done.wait(0.02):
            self.peak = max(self.peak, host_shmem())

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.done.set()
        self.thread.join()

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.baseline) / MB


async def test_filling_tmp_stops_at_the_memory_limit_and_says_so(workdir):
    # 4 × 200 MB into /tmp with memory_mb=256: /tmp holds 256 MB at most; it then holds them a while.
    command = "python3 fill.py /tmp 4 200; sleep 1; exit 1"
    with PeakShmem() as shmem:
        result = await run_sandboxed(
            workdir, command, limits=Limits(wall_s=60, cpu_s=30, memory_mb=256)
        )
    assert result.outcome == "disk_limit" and not result.passed
    assert "wrote 0" in result.output and "wrote 1" not in result.output
    assert "No space left on device" in result.output
    assert result.output.endswith(
        "Baton: the test run exceeded its /tmp limit of 256 MB or 65,536 files (/tmp is memory)."
    )
    # The host paid for at most the limit (a margin for other processes on the machine; unlimited it was ~800).
    assert shmem.growth_mb < 256 + 150, shmem.growth_mb


async def test_tmp_is_also_capped_by_the_admin_setting_and_dev_shm_is_small(workdir):
    limits = Limits(wall_s=60, cpu_s=30, memory_mb=1024, tmp_mb=32)
    result = await run_sandboxed(workdir, "python3 fill.py /tmp 2 20", limits=limits)
    assert (
        result.outcome == "disk_limit"
        and "wrote 0" in result.output
        and "wrote 1" not in result.output
    )
    assert "its /tmp limit of 32 MB" in result.output
    shm = await run_sandboxed(workdir, "python3 fill.py /dev/shm 4 20", limits=limits)
    assert shm.outcome == "disk_limit" and "wrote 0" in shm.output and "wrote 1" not in shm.output
    assert "its /dev/shm limit of 32 MB" in shm.output


async def test_many_files_under_the_per_file_cap_stop_at_the_workspace_total(workdir):
    limits = Limits(wall_s=60, cpu_s=30, memory_mb=256, file_mb=16, disk_mb=64)
    result = await run_sandboxed(workdir, "python3 fill.py . 10 10", limits=limits)
    assert result.outcome == "disk_limit" and not result.passed
    assert (
        "wrote 5" in result.output and "wrote 6" not in result.output
    )  # 6 × 10 MB fit, the 7th not
    assert result.output.endswith(
        "Baton: the test run exceeded its disk limit of 64 MB or 16,384 files (all of /workspace)."
    )


async def test_many_empty_files_stop_at_the_file_count_limit(workdir):
    # Empty files take no space but about 1 KB of kernel memory each: unlimited, 3 million took 3 GB.
    make = (
        "import sys\nn = 0\ntry:\n    for n in range(50_000):\n        open(f'/tmp/e{n}', 'w').close()\n"
        "except OSError as e:\n    print('made', n, e)\n    sys.exit(1)\n"
    )
    (workdir / "many.py").write_text(make)  # noqa: ASYNC240
    result = await run_sandboxed(
        workdir, "python3 many.py", limits=Limits(wall_s=60, cpu_s=30, tmp_mb=16)
    )
    assert result.outcome == "disk_limit" and "No space left on device" in result.output
    made = int(result.output.split("made ")[1].split()[0])
    assert 4000 < made <= 4096
    assert "its /tmp limit of 16 MB or 4,096 files" in result.output


async def test_a_script_that_frees_the_space_before_exiting_is_still_told_it_ran_out(workdir):
    command = "python3 fill.py . 10 10; status=$?; rm -f fill-*; exit $status"
    result = await run_sandboxed(workdir, command, limits=Limits(wall_s=60, cpu_s=30, disk_mb=32))
    assert result.outcome == "disk_limit"
    assert "Baton: the test run ran out of space: its disk limit of 32 MB" in result.output


async def test_writing_anywhere_else_fails_and_does_not_count_as_a_pass(workdir):
    paths = ["/", "/etc", "/dev", "/usr", "/run", "/run/checkout", "/proc"]
    command = "; ".join(
        f"head -c 1048576 /dev/zero > {p}/big 2>/dev/null && echo 'WROTE {p}'" for p in paths
    )
    result = await run_sandboxed(workdir, command + "; true", limits=Limits(wall_s=30, cpu_s=10))
    assert "WROTE" not in result.output, result.output


@pytest.mark.parametrize(
    ("disk_mb", "file_mb", "error"),
    [(2, 256, "data.bin': No space left on device"), (64, 1, "File size limit exceeded")],
)
async def test_a_checkout_bigger_than_the_disk_limit_is_refused_clearly(
    workdir, disk_mb, file_mb, error
):
    (workdir / "data.bin").write_bytes(b"y" * 3 * MB)
    limits = Limits(wall_s=30, cpu_s=10, disk_mb=disk_mb, file_mb=file_mb)
    result = await run_sandboxed(workdir, "echo TESTS-RAN", limits=limits)
    assert result.outcome == "disk_limit" and "TESTS-RAN" not in result.output
    assert error in result.output
    assert result.output.endswith(
        f"Baton: the checkout does not fit in the test run's disk limit of {disk_mb} MB "
        f"(and {file_mb} MB per file): the tests were not run."
    )


async def test_the_code_review_step_applies_the_admins_disk_limit(calc_repo, model_settings):
    head = git(calc_repo, "rev-parse", "feature")
    limits = {"wall_s": 30, "cpu_s": 30, "memory_mb": 256}
    async with model_runtime(dataclasses.replace(model_settings, sandbox_disk_mb=8)):
        result = await CR.run_tests(
            "00000000-0000-0000-0000-00000000d15c",
            str(calc_repo),
            head,
            None,
            "head -c 20000000 /dev/zero > big",
            limits,
        )
    assert result["outcome"] == "disk_limit" and not result["passed"]
    assert "exceeded its disk limit of 8 MB" in result["output"]
    assert CR.OUTCOME_WORDS[result["outcome"]] == "Stopped at the disk limit"


async def test_the_code_cannot_mount_an_unlimited_tmpfs_in_a_namespace_of_its_own(workdir):
    command = (
        "unshare --user --map-root-user --mount sh -c "
        "'mount -t tmpfs none /workspace && echo MOUNTED' 2>&1; "
        "python3 -c 'import os; os.unshare(os.CLONE_NEWUSER); print(\"UNSHARED\")' 2>&1; true"
    )
    result = await run_sandboxed(workdir, command, limits=Limits(wall_s=30, cpu_s=10))
    assert "MOUNTED" not in result.output and "UNSHARED" not in result.output, result.output


def test_the_space_limits_are_settings_with_defaults():
    from app.core.config import ConfigError, load_settings

    defaults = load_settings({})
    assert (defaults.sandbox_disk_mb, defaults.sandbox_tmp_mb) == (1024, 512)
    chosen = load_settings({"BATON_SANDBOX_DISK_MB": "300", "BATON_SANDBOX_TMP_MB": "64"})
    assert (chosen.sandbox_disk_mb, chosen.sandbox_tmp_mb) == (300, 64)
    with pytest.raises(ConfigError, match="BATON_SANDBOX_DISK_MB"):
        load_settings({"BATON_SANDBOX_DISK_MB": "lots"})
    assert (
        Limits(memory_mb=256, tmp_mb=512).tmp_size_mb == 256
    )  # /tmp is memory: never above the run's limit
