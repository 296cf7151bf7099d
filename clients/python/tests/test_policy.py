"""The reconnect policy without a hub: close codes and backoff."""

import random
import unittest

from kai_client import policy
from kai_client.policy import Action, Backoff, action_for


class CloseCodeTests(unittest.TestCase):
    def test_terminal_codes_stop(self) -> None:
        for code in (4001, 4003, 4006, 1009):
            self.assertIs(action_for(code), Action.STOP, code)

    def test_4002_refreshes_then_reconnects(self) -> None:
        self.assertIs(action_for(policy.SESSION_EXPIRED), Action.REFRESH)

    def test_everything_else_backs_off(self) -> None:
        for code in (None, 1000, 1001, 1011, 1013, 4000, 4004, 4005, 4008):
            self.assertIs(action_for(code), Action.BACKOFF, code)


class BackoffTests(unittest.TestCase):
    def test_doubles_up_to_the_cap_within_the_jitter(self) -> None:
        b = Backoff(initial=0.5, maximum=4.0, jitter=0.2, rng=random.Random(7))
        delays = [b.next_delay() for _ in range(6)]
        for delay, base in zip(delays, [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]):
            self.assertGreaterEqual(delay, base * 0.8)
            self.assertLessEqual(delay, base * 1.2)

    def test_jitter_spreads_clients(self) -> None:
        firsts = {Backoff(rng=random.Random(seed)).next_delay() for seed in range(20)}
        self.assertGreater(len(firsts), 10)

    def test_reset_starts_over(self) -> None:
        b = Backoff(initial=1.0, maximum=60.0, jitter=0.0)
        for _ in range(5):
            b.next_delay()
        b.reset()
        self.assertEqual(b.next_delay(), 1.0)

    def test_rate_limited_and_node_full_wait_at_least_the_floor(self) -> None:
        for code in (4004, 1013):
            b = Backoff(initial=0.05, maximum=30.0, jitter=0.0, throttle_floor=2.0)
            self.assertEqual(b.next_delay(code), 2.0)
        self.assertEqual(Backoff(initial=0.05, jitter=0.0).next_delay(4008), 0.05)


if __name__ == "__main__":
    unittest.main()
