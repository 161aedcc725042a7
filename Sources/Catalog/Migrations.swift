// swift-format-ignore-file
// (Migrations are never edited after merge, not even their whitespace.)
// String-named migrations with raw column names. Never edit a migration after it has shipped:
// add a new one.
import GRDB

extension Catalog {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-pool-devices-volumes-objects-extents") { db in
            try db.execute(sql: """
                CREATE TABLE pool (
                    id INTEGER PRIMARY KEY CHECK (id = 1),
                    uuid TEXT NOT NULL,
                    createdAt DATETIME NOT NULL
                );
                CREATE TABLE devices (
                    id TEXT PRIMARY KEY NOT NULL,
                    path TEXT NOT NULL UNIQUE,
                    label TEXT,
                    state TEXT NOT NULL CHECK (state IN ('active', 'readonly', 'draining', 'failed')),
                    capacityBytes INTEGER NOT NULL CHECK (capacityBytes > 0),
                    logicalBlockSize INTEGER NOT NULL CHECK (logicalBlockSize > 0),
                    dataOffset INTEGER NOT NULL CHECK (dataOffset >= 0),
                    createdAt DATETIME NOT NULL
                );
                CREATE TABLE volumes (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    name TEXT NOT NULL UNIQUE,
                    capacityBytes INTEGER NOT NULL CHECK (capacityBytes > 0),
                    replicas INTEGER NOT NULL CHECK (replicas >= 1),
                    provisioning TEXT NOT NULL CHECK (provisioning IN ('thin', 'thick')),
                    createdAt DATETIME NOT NULL,
                    updatedAt DATETIME NOT NULL
                );
                CREATE TABLE objects (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    volumeId INTEGER NOT NULL REFERENCES volumes(id) ON DELETE CASCADE,
                    key TEXT NOT NULL,
                    size INTEGER NOT NULL CHECK (size >= 0),
                    etag TEXT NOT NULL,
                    contentType TEXT,
                    createdAt DATETIME NOT NULL,
                    modifiedAt DATETIME NOT NULL,
                    UNIQUE (volumeId, key)
                );
                CREATE TABLE extents (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    objectId INTEGER NOT NULL REFERENCES objects(id) ON DELETE CASCADE,
                    logicalOffset INTEGER NOT NULL CHECK (logicalOffset >= 0),
                    length INTEGER NOT NULL CHECK (length > 0),
                    checksumBlock INTEGER NOT NULL CHECK (checksumBlock > 0),
                    checksums BLOB NOT NULL,
                    UNIQUE (objectId, logicalOffset)
                );
                CREATE TABLE extent_replicas (
                    extentId INTEGER NOT NULL REFERENCES extents(id) ON DELETE CASCADE,
                    deviceId TEXT NOT NULL REFERENCES devices(id) ON DELETE RESTRICT,
                    physicalOffset INTEGER NOT NULL CHECK (physicalOffset >= 0),
                    length INTEGER NOT NULL CHECK (length > 0),
                    PRIMARY KEY (extentId, deviceId)
                );
                CREATE INDEX extent_replicas_device ON extent_replicas(deviceId, physicalOffset);
                """)
        }
        migrator.registerMigration("v2-pool-default-devices-added") { db in
            // When the first start finished adding its default devices (NULL: not yet, so the
            // next start completes it). Catalogs that already have devices are past that.
            try db.execute(sql: """
                ALTER TABLE pool ADD COLUMN defaultDevicesAddedAt DATETIME;
                UPDATE pool SET defaultDevicesAddedAt = createdAt WHERE EXISTS (SELECT 1 FROM devices);
                """)
        }
        migrator.registerMigration("v3-object-attributes-access-keys-multipart") { db in
            // Object attributes (JSON maps): stored headers and user metadata, and whole-object
            // checksums (dropped when a PATCH changes the bytes). S3 access keys. Multipart
            // uploads: each part's extents are its own until Complete moves them to the object.
            try db.execute(sql: """
                ALTER TABLE objects ADD COLUMN metadata TEXT;
                ALTER TABLE objects ADD COLUMN checksums TEXT;
                CREATE TABLE access_keys (
                    id TEXT PRIMARY KEY NOT NULL,
                    name TEXT NOT NULL,
                    sealedSecret BLOB NOT NULL,
                    permissions TEXT NOT NULL,
                    createBuckets INTEGER NOT NULL,
                    createdAt DATETIME NOT NULL
                );
                CREATE TABLE multipart_uploads (
                    id TEXT PRIMARY KEY NOT NULL,
                    volumeId INTEGER NOT NULL REFERENCES volumes(id) ON DELETE CASCADE,
                    key TEXT NOT NULL,
                    contentType TEXT,
                    metadata TEXT,
                    checksumAlgorithm TEXT,
                    createdAt DATETIME NOT NULL,
                    completedETag TEXT,
                    completedAt DATETIME
                );
                CREATE INDEX multipart_uploads_volume ON multipart_uploads(volumeId, key);
                CREATE TABLE multipart_parts (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    uploadId TEXT NOT NULL REFERENCES multipart_uploads(id) ON DELETE CASCADE,
                    partNumber INTEGER NOT NULL CHECK (partNumber BETWEEN 1 AND 10000),
                    size INTEGER NOT NULL CHECK (size >= 0),
                    etag TEXT NOT NULL,
                    checksums TEXT,
                    createdAt DATETIME NOT NULL,
                    UNIQUE (uploadId, partNumber)
                );
                CREATE TABLE part_extents (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    partId INTEGER NOT NULL REFERENCES multipart_parts(id) ON DELETE CASCADE,
                    logicalOffset INTEGER NOT NULL CHECK (logicalOffset >= 0),
                    length INTEGER NOT NULL CHECK (length > 0),
                    checksumBlock INTEGER NOT NULL CHECK (checksumBlock > 0),
                    checksums BLOB NOT NULL,
                    UNIQUE (partId, logicalOffset)
                );
                CREATE TABLE part_extent_replicas (
                    extentId INTEGER NOT NULL REFERENCES part_extents(id) ON DELETE CASCADE,
                    deviceId TEXT NOT NULL REFERENCES devices(id) ON DELETE RESTRICT,
                    physicalOffset INTEGER NOT NULL CHECK (physicalOffset >= 0),
                    length INTEGER NOT NULL CHECK (length > 0),
                    PRIMARY KEY (extentId, deviceId)
                );
                CREATE INDEX part_extent_replicas_device ON part_extent_replicas(deviceId, physicalOffset);
                """)
        }
        // A small object's bytes may live in its extent row (an inline extent: no replica rows).
        migrator.registerMigration("v4-inline-extent-bodies") { db in
            try db.execute(sql: "ALTER TABLE extents ADD COLUMN body BLOB")
        }
        // A multipart object's part sizes (GetObject ?partNumber=), run-length encoded; NULL: one part.
        migrator.registerMigration("v5-object-part-sizes") { db in
            try db.execute(sql: "ALTER TABLE objects ADD COLUMN parts TEXT")
        }
        // Object versions (a volume's `versioning`): a key keeps several rows. `versioned` 0 is the
        // null version (at most one per key; its version id is "null"), 1 a version whose id is
        // made from its row id; `latest` marks the key's newest row (exactly one per key), which
        // may be a delete marker. UNIQUE (volumeId, key) gives way to a partial UNIQUE index of
        // the latest rows (a volume without versions indexes each key once, as before) and one of
        // the older rows, which takes SQLite's table rebuild (foreign keys are off during a
        // migration, so the extents that refer to the rows stay; the row-id sequence carries over,
        // so no id is used twice).
        migrator.registerMigration("v6-object-versions") { db in
            try db.execute(sql: """
                ALTER TABLE volumes ADD COLUMN versioning TEXT NOT NULL DEFAULT 'off'
                    CHECK (versioning IN ('off', 'enabled', 'suspended'));
                CREATE TABLE objects_v6 (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    volumeId INTEGER NOT NULL REFERENCES volumes(id) ON DELETE CASCADE,
                    key TEXT NOT NULL,
                    size INTEGER NOT NULL CHECK (size >= 0),
                    etag TEXT NOT NULL,
                    contentType TEXT,
                    createdAt DATETIME NOT NULL,
                    modifiedAt DATETIME NOT NULL,
                    metadata TEXT,
                    checksums TEXT,
                    parts TEXT,
                    versioned INTEGER NOT NULL DEFAULT 0 CHECK (versioned IN (0, 1)),
                    latest INTEGER NOT NULL DEFAULT 1 CHECK (latest IN (0, 1)),
                    deleteMarker INTEGER NOT NULL DEFAULT 0 CHECK (deleteMarker IN (0, 1))
                );
                INSERT INTO objects_v6 (id, volumeId, key, size, etag, contentType, createdAt, modifiedAt, metadata, checksums, parts)
                    SELECT id, volumeId, key, size, etag, contentType, createdAt, modifiedAt, metadata, checksums, parts FROM objects;
                DELETE FROM sqlite_sequence WHERE name = 'objects_v6';
                UPDATE sqlite_sequence SET name = 'objects_v6' WHERE name = 'objects';
                DROP TABLE objects;
                ALTER TABLE objects_v6 RENAME TO objects;
                CREATE UNIQUE INDEX objects_latest ON objects(volumeId, key) WHERE latest = 1;
                CREATE INDEX objects_noncurrent ON objects(volumeId, key, id DESC) WHERE latest = 0;
                """)
        }
        // Volume snapshots: a volume counts epochs; a snapshot is the epoch it closed, and taking
        // one only adds its row and moves the volume to the next epoch. A row is born in an epoch
        // (`bornEpoch`); a row a snapshot sees is not deleted when a change replaces or deletes
        // it, but kept with the epoch it died in (`diedEpoch`, not NULL only for such kept rows,
        // which are never latest). Snapshot s sees the rows born at or before s that died after
        // it; a key's newest such row is what s holds of the key. `snapshotEpoch`: the newest
        // snapshot's epoch (NULL: none), read with every change to know whether it keeps rows.
        // The older rows' index leaves the kept ones out; they have one of their own.
        migrator.registerMigration("v7-volume-snapshots") { db in
            try db.execute(sql: """
                ALTER TABLE volumes ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE volumes ADD COLUMN snapshotEpoch INTEGER;
                CREATE TABLE snapshots (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    volumeId INTEGER NOT NULL REFERENCES volumes(id) ON DELETE CASCADE,
                    name TEXT NOT NULL,
                    epoch INTEGER NOT NULL,
                    createdAt DATETIME NOT NULL,
                    UNIQUE (volumeId, name),
                    UNIQUE (volumeId, epoch)
                );
                ALTER TABLE objects ADD COLUMN bornEpoch INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE objects ADD COLUMN diedEpoch INTEGER;
                DROP INDEX objects_noncurrent;
                CREATE INDEX objects_noncurrent ON objects(volumeId, key, id DESC) WHERE latest = 0 AND diedEpoch IS NULL;
                CREATE INDEX objects_kept ON objects(volumeId, key, id DESC) WHERE diedEpoch IS NOT NULL;
                """)
        }
        // Clones: a volume made from a snapshot (`cloneOf`) starts with a row per object the
        // snapshot holds, each borrowing its bytes from the row it was made from (`dataRow`: the
        // row whose extents it reads, never itself a borrower). The snapshot keeps those rows,
        // and it cannot be deleted while a clone of it exists (the foreign key says so too).
        // `origin`: "volume@snapshot", as clients named it (names never change).
        migrator.registerMigration("v8-volume-clones") { db in
            try db.execute(sql: """
                ALTER TABLE objects ADD COLUMN dataRow INTEGER;
                ALTER TABLE volumes ADD COLUMN cloneOf INTEGER REFERENCES snapshots(id);
                ALTER TABLE volumes ADD COLUMN origin TEXT;
                CREATE INDEX objects_borrowed ON objects(dataRow) WHERE dataRow IS NOT NULL;
                """)
        }
        return migrator
    }
}
