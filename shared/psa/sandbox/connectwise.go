package sandbox

import "net/http"

// ConnectWise hosts ConnectWise PSA instances. (Being built: see issue 3.)
type ConnectWise struct{ s *Server }

// ConnectWiseSeed is one ConnectWise instance's initial state.
type ConnectWiseSeed struct{}

func newConnectWise(s *Server) *ConnectWise { return &ConnectWise{s: s} }

// AddInstance adds an instance.
func (a *ConnectWise) AddInstance(ConnectWiseSeed) {}

func (a *ConnectWise) ServeHTTP(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }
