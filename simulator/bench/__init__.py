"""The lab: the claims of the lessons measured on the real kernel, beside the model's counters.

- `simulator.bench.plan`: what a sweep measures (`Plan`), checked before anything runs.
- `simulator.bench.sweep`: the complexity sweep (`sweep`), one `Point` per mechanism, N, K.
- `simulator.bench.polling`: the polling problem (`polling`), busy loop against epoll_wait.
- `simulator.bench.thrash`: thrashing (`thrash`), server shapes as the arrival rate rises.
- `simulator.bench.world`: the live child's world built in the model (`ModelWorld`).
- `simulator.bench.predict`: the question asked before each experiment, judged by its points.

This package sits beside `simulator.scenario` in the layering: it drives both kernels (the
model for its cost counters, the live child for its timings) and the TUI sees only its plain
records.
"""
