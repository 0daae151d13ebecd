"""The Purview simulator's HTTP routes, one mixin a family (entities, annotations, typedefs, collections);
each registers its handlers on the shared SimServer through ``Gate._route``.
"""
