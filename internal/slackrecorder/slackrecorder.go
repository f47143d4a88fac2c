// Package slackrecorder is a Slack stand-in for the demo and tests: slack-go's
// slacktest server whose chat.postMessage records each post and answers with
// distinct message timestamps (slacktest's own handler only queues posts for
// an RTM websocket and stamps them in whole seconds).
package slackrecorder

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"

	"github.com/slack-go/slack/slacktest"
)

// Post is one chat.postMessage call.
type Post struct {
	Channel, Text, Blocks, ThreadTS, TS string
}

// Server is a started slacktest server; Stop it when done.
type Server struct {
	*slacktest.Server
	mu    sync.Mutex
	posts []Post
	fail  string
}

// Start starts a recording Slack stand-in on 127.0.0.1.
func Start() *Server {
	s := &Server{}
	s.Server = slacktest.NewTestServer(func(c slacktest.Customize) {
		c.Handle("/chat.postMessage", s.postMessage)
	})
	s.Server.Start()
	return s
}

// FailWith makes chat.postMessage answer ok:false with this error ("" to
// stop failing).
func (s *Server) FailWith(slackError string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = slackError
}

func (s *Server) postMessage(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if s.fail != "" {
		_ = json.NewEncoder(w).Encode(map[string]any{"ok": false, "error": s.fail})
		return
	}
	p := Post{
		Channel:  r.PostForm.Get("channel"),
		Text:     r.PostForm.Get("text"),
		Blocks:   r.PostForm.Get("blocks"),
		ThreadTS: r.PostForm.Get("thread_ts"),
		TS:       fmt.Sprintf("1777633200.%06d", len(s.posts)+1),
	}
	s.posts = append(s.posts, p)
	_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "channel": p.Channel, "ts": p.TS})
}

// Posts returns every post so far, in order.
func (s *Server) Posts() []Post {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Post(nil), s.posts...)
}

// TopLevel returns the posts that started a thread.
func (s *Server) TopLevel() []Post {
	var out []Post
	for _, p := range s.Posts() {
		if p.ThreadTS == "" {
			out = append(out, p)
		}
	}
	return out
}
