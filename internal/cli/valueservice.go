package cli

import (
	"sync"

	"github.com/omniroi/omniroi/internal/server"
	"github.com/omniroi/omniroi/internal/value"
)

// valueServices holds one customer-value service per server, shared by the API and the
// dashboard so the snapshot (Pareto/NBD and the rest) is fitted once per data version.
var valueServices sync.Map // *server.Server → *value.Service

func valueService(s *server.Server) *value.Service {
	if v, ok := valueServices.Load(s); ok {
		return v.(*value.Service)
	}
	v, _ := valueServices.LoadOrStore(s, value.NewService(s.DB))
	return v.(*value.Service)
}
