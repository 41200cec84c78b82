// BulwarkCatalog: the SQLite catalog.
