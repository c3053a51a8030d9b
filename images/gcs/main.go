// Command gcs-server serves fake-gcs-server's emulation of the Google Cloud
// Storage JSON API (its package fakestorage) over HTTPS with a certificate
// the caller gives: the GCS service of the tests of pgBackRest's GCS
// repositories (repoN-type=gcs).
//
// It differs from fake-gcs-server's own command in one thing pgBackRest
// needs: the answer that starts a resumable upload carries the upload's id in
// an X-GUploader-UploadID header, as Google's service does, besides the
// Location URL fake-gcs-server gives. pgBackRest reads that header, and
// uploads every file larger than repoN-storage-upload-chunk-size that way.
//
// Options (flags, or the environment variables named):
//
//	-addr  GCS_ADDR  address to listen on (:4443)
//	-cert  GCS_CERT  PEM certificate, or chain, to serve HTTPS with
//	-key   GCS_KEY   its PEM private key (no -cert and -key: plain HTTP)
//	-root  GCS_ROOT  directory that keeps the buckets and objects
//	                 (/var/lib/gcs-server); "" keeps them in memory
//
// A bucket is made with the JSON API (POST /storage/v1/b {"name": NAME}).
// No request is authenticated: any bearer token works.
package main

import (
	"context"
	"errors"
	"flag"
	"log"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/fsouza/fake-gcs-server/fakestorage"
)

const uploadIDHeader = "X-GUploader-UploadID"

func envOr(name, fallback string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return fallback
}

// uploadIDWriter adds the upload id header to an answer whose Location names
// a resumable upload, just before the answer's header goes out.
type uploadIDWriter struct {
	http.ResponseWriter
	sent bool
}

func (w *uploadIDWriter) WriteHeader(code int) {
	if !w.sent {
		w.sent = true
		addUploadID(w.Header())
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *uploadIDWriter) Write(b []byte) (int, error) {
	if !w.sent {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *uploadIDWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func addUploadID(h http.Header) {
	location := h.Get("Location")
	if location == "" || h.Get(uploadIDHeader) != "" {
		return
	}
	u, err := url.Parse(location)
	if err != nil {
		return
	}
	if id := u.Query().Get("upload_id"); id != "" {
		h.Set(uploadIDHeader, id)
	}
}

func withUploadID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&uploadIDWriter{ResponseWriter: w}, r)
	})
}

func main() {
	addr := flag.String("addr", envOr("GCS_ADDR", ":4443"), "address to listen on")
	cert := flag.String("cert", os.Getenv("GCS_CERT"), "PEM certificate (chain) for HTTPS; none: plain HTTP")
	key := flag.String("key", os.Getenv("GCS_KEY"), "PEM private key of -cert")
	root := flag.String("root", envOr("GCS_ROOT", "/var/lib/gcs-server"), "directory of the buckets; empty: in memory")
	flag.Parse()
	if (*cert == "") != (*key == "") {
		log.Fatal("gcs-server: give both -cert and -key, or neither")
	}

	storage, err := fakestorage.NewServerWithOptions(fakestorage.Options{
		StorageRoot: *root,
		NoListener:  true,
		Writer:      os.Stderr,
	})
	if err != nil {
		log.Fatalf("gcs-server: %v", err)
	}
	server := &http.Server{
		Addr:              *addr,
		Handler:           withUploadID(storage.HTTPHandler()),
		ReadHeaderTimeout: 30 * time.Second,
	}

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-stop
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = server.Shutdown(ctx)
	}()

	scheme := "http"
	if *cert != "" {
		scheme = "https"
	}
	log.Printf("gcs-server: serving %s on %s, buckets in %q", scheme, *addr, *root)
	if *cert != "" {
		err = server.ListenAndServeTLS(*cert, *key)
	} else {
		err = server.ListenAndServe()
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatalf("gcs-server: %v", err)
	}
}
