"""How many worker processes ``processes = auto`` starts: affinity mask and container quota."""

from __future__ import annotations

import pytest

from henchman.cpus import (
    cgroup_paths,
    cgroup_quota,
    machine_cpus,
    quota_from_cfs,
    quota_from_cpu_max,
    usable_cpus,
)


@pytest.mark.parametrize(
    ("text", "cpus"),
    [("200000 100000\n", 2.0), ("150000 100000", 1.5), ("max 100000\n", None), ("", None),
     ("garbage", None), ("0 100000", None)],
)  # fmt: skip
def test_cgroup_v2_cpu_max_gives_the_quota_in_cpus(text: str, cpus: float | None) -> None:
    assert quota_from_cpu_max(text) == cpus


def test_cgroup_v1_cfs_quota_gives_the_quota_in_cpus() -> None:
    assert quota_from_cfs("300000\n", "100000\n") == 3.0
    assert quota_from_cfs("-1\n", "100000\n") is None
    assert quota_from_cfs("x", "100000") is None


def test_proc_self_cgroup_names_the_v2_and_v1_cpu_paths() -> None:
    assert cgroup_paths("0::/kubepods/pod1/c1\n") == ("/kubepods/pod1/c1", None)
    assert cgroup_paths("4:memory:/m\n2:cpu,cpuacct:/docker/abc\n0::/\n") == ("/", "/docker/abc")
    assert cgroup_paths("") == (None, None)


def test_the_smallest_quota_on_the_cgroup_path_applies() -> None:
    files = {
        "/proc/self/cgroup": "0::/kubepods/pod1/c1\n",
        "/sys/fs/cgroup/kubepods/pod1/c1/cpu.max": "max 100000\n",
        "/sys/fs/cgroup/kubepods/pod1/cpu.max": "150000 100000\n",
        "/sys/fs/cgroup/kubepods/cpu.max": "800000 100000\n",
    }
    assert cgroup_quota(read=lambda path: files.get(str(path))) == 1.5


def test_cgroup_v1_quota_is_read_when_there_is_no_v2_limit() -> None:
    files = {
        "/proc/self/cgroup": "3:cpu,cpuacct:/docker/abc\n0::/\n",
        "/sys/fs/cgroup/cpu/docker/abc/cpu.cfs_quota_us": "200000\n",
        "/sys/fs/cgroup/cpu/docker/abc/cpu.cfs_period_us": "100000\n",
    }
    assert cgroup_quota(read=lambda path: files.get(str(path))) == 2.0


def test_no_cgroup_files_mean_no_quota() -> None:
    assert cgroup_quota(read=lambda path: None) is None


@pytest.mark.parametrize(
    ("affinity", "quota", "count"),
    [(64, 2.0, 2), (64, 1.5, 2), (4, None, 4), (2, 8.0, 2), (8, 0.5, 1), (1, None, 1)],
)
def test_usable_cpus_is_the_mask_capped_by_the_quota_rounded_up(
    affinity: int, quota: float | None, count: int
) -> None:
    assert usable_cpus(affinity, quota) == count


def test_this_machine_has_at_least_one_usable_cpu() -> None:
    assert machine_cpus() >= 1
