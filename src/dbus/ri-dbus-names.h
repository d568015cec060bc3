#pragma once

/* The one place that spells the daemon's names on the bus. */
#define RI_DBUS_NAME "org.regindexer.Indexer"
#define RI_DBUS_PATH "/org/regindexer/Indexer"
#define RI_DBUS_INTERFACE "org.regindexer.Indexer"
#define RI_DBUS_ERROR_PREFIX "org.regindexer.Indexer.Error."
