"""Hosting the course for a room: a roster, JupyterHub's configuration, the hub as a process, a rehearsal.

One machine, many learners (``make workshop``): JupyterHub with a shared-password login, each learner's
server opening notebook 00 in a personal copy of ``notebooks/``; a rehearsal measures what a learner costs
(time to a running server, notebook wall time, peak memory) and sizes the machine from it.
"""
