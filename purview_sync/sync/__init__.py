"""The work on one datastore: read Qualytics (snapshot), match Purview assets (matcher), push values and
the typedef, pull tags. Takes its collaborators in a ``DatastoreJob``; never imports ``app``."""
