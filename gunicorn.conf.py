"""gunicorn's settings for Tandem, read from the project root whenever gunicorn starts
there (as the README serves it); what the command line gives wins.

Python's cyclic garbage collector walks every tracked object of the generation it
collects. A worker holds some 200,000 objects from start-up (modules, the SQLAlchemy
mappers, compiled templates) that live as long as it does, and a page allocates and
frees tens of thousands more, so the default thresholds had it walking them every few
requests: about 2 ms a request on the deal board (the mean 2 ms above the median, in-process
at scale 1). After start-up the worker moves what it holds out of the collector's
sight (gc.freeze) and collects the young generation ten times less often.
"""

import gc

GC_THRESHOLDS = (7000, 10, 10)  # the defaults are (700, 10, 10)


def post_worker_init(worker) -> None:
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
