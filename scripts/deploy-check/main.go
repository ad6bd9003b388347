// deploy-check validates the project's deployment files with the parsers the real tools use, offline.
//
//	deploy-check compose FILE
//	    Loads FILE with compose-go (the library `docker compose` itself uses): compose-spec schema,
//	    interpolation, merge keys, cross references (depends_on, volumes, networks). Then checks that
//	    every build context, Dockerfile and bind-mounted host path exists.
//	deploy-check compose-json FILE
//	    The same checks, then prints the resolved project (the model `docker compose config` shows) as
//	    JSON on stdout, for tests to assert on.
//	deploy-check operator FILE...
//	    Decodes every ServiceMonitor and PrometheusRule in the multi-document YAML FILEs strictly into
//	    the Prometheus Operator's Go API types (from which its CRD schemas are generated): an unknown
//	    field or a wrong type fails. Other kinds are ignored. Fails when no such object is found.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: deploy-check compose FILE | deploy-check operator FILE...")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "compose":
		_, err = checkCompose(os.Args[2], os.Stdout)
	case "compose-json":
		var project *types.Project
		if project, err = checkCompose(os.Args[2], os.Stderr); err == nil {
			var out []byte
			if out, err = project.MarshalJSON(); err == nil {
				_, err = os.Stdout.Write(append(out, '\n'))
			}
		}
	case "operator":
		err = checkOperator(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "deploy-check:", err)
		os.Exit(1)
	}
}

func checkCompose(file string, report io.Writer) (*types.Project, error) {
	abs, err := filepath.Abs(file)
	if err != nil {
		return nil, err
	}
	opts, err := cli.NewProjectOptions([]string{abs},
		cli.WithWorkingDirectory(filepath.Dir(abs)),
		cli.WithOsEnv,
		cli.WithDotEnv,
		cli.WithConsistency(true),
		cli.WithResolvedPaths(true),
	)
	if err != nil {
		return nil, err
	}
	project, err := opts.LoadProject(context.Background())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	var problems []error
	names := project.ServiceNames()
	sort.Strings(names)
	for _, name := range names {
		svc := project.Services[name]
		if svc.Build != nil {
			if _, err := os.Stat(svc.Build.Context); err != nil {
				problems = append(problems, fmt.Errorf("service %s: build context: %w", name, err))
			}
			dockerfile := svc.Build.Dockerfile
			if dockerfile == "" {
				dockerfile = "Dockerfile"
			}
			if !filepath.IsAbs(dockerfile) {
				dockerfile = filepath.Join(svc.Build.Context, dockerfile)
			}
			if _, err := os.Stat(dockerfile); err != nil {
				problems = append(problems, fmt.Errorf("service %s: dockerfile: %w", name, err))
			}
		}
		if svc.Image == "" && svc.Build == nil {
			problems = append(problems, fmt.Errorf("service %s: neither image nor build", name))
		}
		for _, v := range svc.Volumes {
			if v.Type == types.VolumeTypeBind {
				if _, err := os.Stat(v.Source); err != nil {
					problems = append(problems, fmt.Errorf("service %s: bind mount source: %w", name, err))
				}
			}
		}
		fmt.Fprintf(report, "compose: service %-14s image=%s\n", name, svc.Image)
	}
	if len(problems) > 0 {
		return nil, errors.Join(problems...)
	}
	fmt.Fprintf(report, "compose: %s valid (%d services)\n", file, len(names))
	return project, nil
}

type typeMeta struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
}

func checkOperator(files []string) error {
	found := 0
	var problems []error
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
		for {
			doc, err := reader.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return fmt.Errorf("%s: %w", file, err)
			}
			if len(bytes.TrimSpace(doc)) == 0 {
				continue
			}
			var meta typeMeta
			if err := yaml.Unmarshal(doc, &meta); err != nil {
				return fmt.Errorf("%s: %w", file, err)
			}
			if meta.APIVersion != "monitoring.coreos.com/v1" {
				continue
			}
			var target any
			switch meta.Kind {
			case "ServiceMonitor":
				target = &monitoringv1.ServiceMonitor{}
			case "PrometheusRule":
				target = &monitoringv1.PrometheusRule{}
			default:
				problems = append(problems, fmt.Errorf("%s: %s %s: kind not checked by this tool", file, meta.Kind, meta.Metadata.Name))
				continue
			}
			found++
			if err := yaml.UnmarshalStrict(doc, target); err != nil {
				problems = append(problems, fmt.Errorf("%s: %s %s: %w", file, meta.Kind, meta.Metadata.Name, err))
				continue
			}
			fmt.Printf("operator: %s: %s %s valid\n", file, meta.Kind, meta.Metadata.Name)
		}
	}
	if len(problems) > 0 {
		return errors.Join(problems...)
	}
	if found == 0 {
		return errors.New("no ServiceMonitor or PrometheusRule found")
	}
	return nil
}
