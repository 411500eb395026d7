"""The latent explorer (``genlab explore RUN``): a local web page over a run's model.

``session.py`` holds what the page can ask (checked parameters, decoding in genlab); ``server.py``
serves it with the standard library's ``http.server`` on 127.0.0.1, and ``static/`` holds the page,
its script and its style (no CDN: nothing is fetched from elsewhere).
"""
