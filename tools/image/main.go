// Command wso-image builds the operator's OCI image archive without a Docker daemon, with
// go-containerregistry: one layer holding what the Dockerfile's image holds (the release binary,
// the shared libraries it links as ldd reports them, CA certificates, the distroless-style
// /etc/passwd and /etc/group with the user 65532, /tmp, /home/nonroot) and the Dockerfile's
// config (user 65532:65532, entrypoint, cmd, port 8080, labels).
//
// The output is an OCI image layout packed as a tar (an "oci-archive", the format of `skopeo copy
// oci-archive:...`, `podman load` and `docker load` from Docker 25; `crane push` takes the
// unpacked layout directory). Every timestamp is zero and every entry sorted, so the same inputs give the
// same digests.
//
//	wso-image -binary target/release/watson-speech-operator -name watson-speech-operator \
//	  -version 0.1.0 -out target/image/watson-speech-operator-0.1.0.oci.tar
package main

import (
	"archive/tar"
	"bytes"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Where the binary lives in the image: the Dockerfile's COPY target and ENTRYPOINT.
const binaryPath = "/usr/local/bin/watson-speech-operator"

// The distroless "nonroot" user; numeric, so runAsNonRoot can verify it.
const nonroot = 65532

type entry struct {
	name string // absolute path in the image
	mode int64
	uid  int
	dir  bool
	data []byte
}

func main() {
	binary := flag.String("binary", "", "the release binary (cargo build --release --no-default-features)")
	name := flag.String("name", "watson-speech-operator", "image name (the chart's image.repository)")
	version := flag.String("version", "", "image tag and org.opencontainers.image.version")
	caFile := flag.String("ca-certificates", "/etc/ssl/certs/ca-certificates.crt", "CA bundle to install")
	out := flag.String("out", "", "the OCI archive to write")
	flag.Parse()
	if *binary == "" || *version == "" || *out == "" {
		flag.Usage()
		os.Exit(2)
	}
	if err := build(*binary, *name, *version, *caFile, *out); err != nil {
		fmt.Fprintf(os.Stderr, "wso-image: %v\n", err)
		os.Exit(1)
	}
}

func build(binary, name, version, caFile, out string) error {
	entries, err := rootfs(binary, caFile)
	if err != nil {
		return err
	}
	layerTar, err := tarOf(entries)
	if err != nil {
		return err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return fmt.Errorf("layer: %w", err)
	}
	base := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	base = mutate.ConfigMediaType(base, types.OCIConfigJSON)
	img, err := mutate.Append(base, mutate.Addendum{
		Layer:   layer,
		History: v1.History{CreatedBy: "wso-image: " + binaryPath + ", its shared libraries, CA certificates, passwd/group", Created: v1.Time{Time: time.Unix(0, 0).UTC()}},
	})
	if err != nil {
		return fmt.Errorf("append layer: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return err
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS = "amd64", "linux"
	cf.Created = v1.Time{Time: time.Unix(0, 0).UTC()}
	cf.Config = v1.Config{
		User:         fmt.Sprintf("%d:%d", nonroot, nonroot),
		Entrypoint:   []string{binaryPath},
		Cmd:          []string{"run"},
		WorkingDir:   "/home/nonroot",
		ExposedPorts: map[string]struct{}{"8080/tcp": {}},
		Env: []string{
			"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
			"SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt",
		},
		// The Dockerfile's labels, and the version the tag names.
		Labels: map[string]string{
			"org.opencontainers.image.title":       "watson-speech-operator",
			"org.opencontainers.image.description": "Kubernetes operator for IBM Watson Speech custom models",
			"org.opencontainers.image.licenses":    "Apache-2.0",
			"org.opencontainers.image.version":     version,
		},
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}

	dir, err := os.MkdirTemp(filepath.Dir(out), ".oci-layout-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return fmt.Errorf("layout: %w", err)
	}
	// ref.name is the OCI tag (podman, skopeo); io.containerd.image.name is what `docker load`
	// names the image.
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": version,
		"io.containerd.image.name":          fmt.Sprintf("docker.io/library/%s:%s", name, version),
	})); err != nil {
		return fmt.Errorf("write image: %w", err)
	}
	return tarDir(dir, out)
}

// rootfs lists what the image holds.
func rootfs(binary, caFile string) ([]entry, error) {
	var es []entry
	add := func(name string, mode int64, src string) error {
		data, err := os.ReadFile(src) // follows symlinks: the image holds regular files
		if err != nil {
			return err
		}
		es = append(es, entry{name: name, mode: mode, data: data})
		return nil
	}
	if err := add(binaryPath, 0o755, binary); err != nil {
		return nil, err
	}
	libs, err := sharedLibraries(binary)
	if err != nil {
		return nil, err
	}
	for _, lib := range libs {
		if err := add(lib, 0o755, lib); err != nil {
			return nil, err
		}
	}
	if err := add("/etc/ssl/certs/ca-certificates.crt", 0o644, caFile); err != nil {
		return nil, err
	}
	es = append(es,
		entry{name: "/etc/passwd", mode: 0o644, data: []byte("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n")},
		entry{name: "/etc/group", mode: 0o644, data: []byte("root:x:0:\nnonroot:x:65532:\n")},
		entry{name: "/tmp", mode: 0o1777, dir: true},
		entry{name: "/home/nonroot", mode: 0o700, dir: true, uid: nonroot},
	)
	return es, nil
}

var lddLine = regexp.MustCompile(`(?:=>\s*)?(/\S+)\s+\(0x[0-9a-f]+\)`)

// sharedLibraries are the files ldd resolves for the binary (the dynamic loader included), at
// the paths ldd names, which are the paths the binary and the loader look in.
func sharedLibraries(binary string) ([]string, error) {
	out, err := exec.Command("ldd", binary).Output()
	if err != nil {
		return nil, fmt.Errorf("ldd %s: %w", binary, err)
	}
	var libs []string
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "not found") {
			return nil, fmt.Errorf("ldd %s: %s", binary, strings.TrimSpace(line))
		}
		if m := lddLine.FindStringSubmatch(line); m != nil {
			libs = append(libs, m[1])
		}
	}
	if len(libs) == 0 {
		return nil, fmt.Errorf("ldd %s found no libraries (a static binary needs none, but this one is dynamic)", binary)
	}
	return libs, nil
}

// tarOf writes the entries, with every parent directory, sorted, owned by root unless stated.
func tarOf(es []entry) ([]byte, error) {
	all := map[string]entry{}
	for _, e := range es {
		all[e.name] = e
		for d := path.Dir(e.name); d != "/"; d = path.Dir(d) {
			if _, ok := all[d]; !ok {
				all[d] = entry{name: d, mode: 0o755, dir: true}
			}
		}
	}
	names := make([]string, 0, len(all))
	for n := range all {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, n := range names {
		e := all[n]
		h := &tar.Header{Name: strings.TrimPrefix(n, "/"), Mode: e.mode, Uid: e.uid, Gid: e.uid, ModTime: time.Unix(0, 0), Format: tar.FormatPAX}
		if e.dir {
			h.Typeflag, h.Name = tar.TypeDir, h.Name+"/"
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(e.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// tarDir packs the layout directory into out (sorted, zero times), through a temporary file so
// that a half-written archive never has the final name.
func tarDir(dir, out string) error {
	var files []string
	if err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir {
			files = append(files, p)
		}
		return nil
	}); err != nil {
		return err
	}
	sort.Strings(files)
	tmp, err := os.CreateTemp(filepath.Dir(out), ".oci-archive-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	tw := tar.NewWriter(tmp)
	for _, p := range files {
		rel, _ := filepath.Rel(dir, p)
		info, err := os.Stat(p)
		if err != nil {
			return err
		}
		h := &tar.Header{Name: filepath.ToSlash(rel), Mode: 0o644, ModTime: time.Unix(0, 0), Format: tar.FormatPAX}
		if info.IsDir() {
			h.Typeflag, h.Name, h.Mode = tar.TypeDir, h.Name+"/", 0o755
			if err := tw.WriteHeader(h); err != nil {
				return err
			}
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		h.Typeflag, h.Size = tar.TypeReg, int64(len(data))
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := tw.Write(data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	// CreateTemp makes the file 0600; the archive is for anyone who may read the directory.
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), out)
}
