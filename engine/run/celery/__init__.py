"""The ``celery`` executor: ``hookline serve`` sends jobs to ``hookline worker`` processes.

``app`` configures the Celery app both sides share; ``executor`` is what ``serve`` (and
``replay``) use to send jobs; ``worker`` is what runs them. A message carries a job's id and
recipe name only: the job itself is read from the state store, which every side shares.
Celery is imported only by these modules, when the executor or the worker is chosen.
"""
