package sandbox

import "net/http"

// Autotask hosts Autotask PSA instances. (Being built: see issue 3.)
type Autotask struct{ s *Server }

// AutotaskSeed is one Autotask instance's initial state.
type AutotaskSeed struct{}

func newAutotask(s *Server) *Autotask { return &Autotask{s: s} }

// AddInstance adds an instance.
func (a *Autotask) AddInstance(AutotaskSeed) {}

func (a *Autotask) ServeHTTP(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }
