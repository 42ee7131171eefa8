// Package ieregistry loads go-ipfix's information element registry once per
// process. go-ipfix keeps the registry in package globals that LoadRegistry
// replaces without a lock, so every podflow package that reads it (the
// exporter, the collector) must load it through this one Once: two loads
// racing with a reader is a data race.
package ieregistry

import (
	"sync"

	"github.com/vmware/go-ipfix/pkg/registry"
)

// Load loads the registry the first time it is called; later calls return
// at once, after the first has finished.
var Load = sync.OnceFunc(registry.LoadRegistry)
