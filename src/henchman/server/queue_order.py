"""Queue order for one fetch: pure, randomness passed in.

* strict (no weights): the configured order, every time;
* weighted: a queue with weight w comes first with probability w/total, redrawn per fetch
  (Sidekiq's weighted fetch: an expanded list shuffled, duplicates dropped);
* random: weighted with every weight 1;
* mixed (some queues weighted, some not): weighted, the unweighted ones counting as weight 1.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from henchman.config import QueueSpec


def is_strict(queues: Sequence[QueueSpec]) -> bool:
    """No queue has a weight: always the configured order."""
    return all(q.weight == 0 for q in queues)


def order(queues: Sequence[QueueSpec], rng: random.Random) -> list[str]:
    """The queue names to try, first to last, for one fetch."""
    if is_strict(queues):
        return [q.name for q in queues]
    expanded = [q.name for q in queues for _ in range(max(q.weight, 1))]
    rng.shuffle(expanded)
    return list(dict.fromkeys(expanded))
