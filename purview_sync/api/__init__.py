"""The trigger layer: one blueprint per trigger family (HTTP, queue, timer) — parse, call ``app``, respond.
Nothing below imports it; ``function_app.py`` registers its blueprints."""
