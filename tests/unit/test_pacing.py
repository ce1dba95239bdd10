"""Calls are paced per (account, region, API), independently of each other."""

from __future__ import annotations

from fleet.aws.pacing import Pacer


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


def test_calls_to_one_api_in_one_account_and_region_are_spaced_at_the_rate() -> None:
    clock = FakeClock()
    pacer = Pacer(default=10.0, clock=clock, sleep=clock.sleep)
    for _ in range(3):
        pacer.wait("111111111111", "us-east-1", "RegisterCertificate")
    assert clock.slept == [0.1, 0.1]


def test_other_apis_accounts_and_regions_do_not_wait() -> None:
    clock = FakeClock()
    pacer = Pacer(default=10.0, clock=clock, sleep=clock.sleep)
    pacer.wait("111111111111", "us-east-1", "RegisterCertificate")
    pacer.wait("111111111111", "us-east-1", "UpdateCertificate")
    pacer.wait("222222222222", "us-east-1", "RegisterCertificate")
    pacer.wait("111111111111", "eu-west-1", "RegisterCertificate")
    assert clock.slept == []


def test_attach_policy_runs_at_one_and_a_half_times_the_rate() -> None:
    clock = FakeClock()
    pacer = Pacer(default=10.0, clock=clock, sleep=clock.sleep)
    pacer.wait("111111111111", "us-east-1", "AttachPolicy")
    pacer.wait("111111111111", "us-east-1", "AttachPolicy")
    assert clock.slept == [round(1 / 15, 6)]
