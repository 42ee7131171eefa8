package config

import (
	"errors"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// applyYAML applies a YAML configuration file: a mapping whose keys are
// option names. Unknown and repeated keys are errors (a typo must not fall
// back silently to a default); every error names the file, line and key.
func applyYAML(c *Config, file string, data []byte) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("--config: %s: %w", file, err)
	}
	if len(doc.Content) == 0 {
		return nil // empty file: nothing to override
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil // only comments
	}
	if root.Kind != yaml.MappingNode {
		return fmt.Errorf("--config: %s:%d: want a mapping of option: value", file, root.Line)
	}
	vals := rawValues{}
	where := map[string]string{}
	var errs []error
	for i := 0; i+1 < len(root.Content); i += 2 {
		key, value := root.Content[i], root.Content[i+1]
		pos := fmt.Sprintf("%s:%d", file, key.Line)
		o, ok := lookupOption(key.Value)
		if !ok || o.notInFile {
			errs = append(errs, fmt.Errorf("%s: unknown key %q (known keys: %s)", pos, key.Value, fileKeys()))
			continue
		}
		if prev, dup := where[o.name]; dup {
			errs = append(errs, fmt.Errorf("%s: key %q repeats %s", pos, key.Value, prev))
			continue
		}
		where[o.name] = fmt.Sprintf("%s key %s", pos, key.Value)
		v, err := yamlValues(o, value)
		if err != nil {
			errs = append(errs, fmt.Errorf("--%s: %w (from %s)", o.name, err, where[o.name]))
			continue
		}
		vals[o.name] = v
	}
	errs = append(errs, applyRaw(c, vals, func(o *option) string { return where[o.name] }))
	return errors.Join(errs...)
}

// yamlValues turns a YAML value into the option's raw text values. A list
// option takes a sequence of scalars, a comma-separated string, or null
// (empty list); other options take one scalar.
func yamlValues(o *option, n *yaml.Node) ([]string, error) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	switch {
	case n.Kind == yaml.ScalarNode && n.Tag == "!!null":
		if o.list {
			return nil, nil
		}
		return nil, fmt.Errorf("missing value")
	case n.Kind == yaml.ScalarNode:
		if err := localTag(n); err != nil {
			return nil, err
		}
		return o.values(n.Value), nil
	case n.Kind == yaml.SequenceNode && o.list:
		var vals []string
		for _, item := range n.Content {
			if item.Kind == yaml.AliasNode {
				item = item.Alias
			}
			if item.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: list items must be plain values", item.Line)
			}
			if err := localTag(item); err != nil {
				return nil, err
			}
			vals = append(vals, strings.TrimSpace(item.Value))
		}
		return vals, nil
	case o.list:
		return nil, fmt.Errorf("want a list or a comma-separated string")
	default:
		return nil, fmt.Errorf("want a single value")
	}
}

// localTag rejects a scalar YAML read as a local tag: an unquoted
// "!10.1.0.0/16" (a filter's deny rule) is the tag "!10.1.0.0/16" on an
// empty value, which must not pass for an empty rule.
func localTag(n *yaml.Node) error {
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		return fmt.Errorf("line %d: %s%s is read as a YAML tag: quote it (\"%s\")", n.Line, n.Tag, spaced(n.Value), n.Tag+spaced(n.Value))
	}
	return nil
}

func spaced(v string) string {
	if v == "" {
		return ""
	}
	return " " + v
}

// fileKeys lists the keys a configuration file may hold.
func fileKeys() string {
	var keys []string
	for _, o := range options {
		if !o.notInFile {
			keys = append(keys, o.name)
		}
	}
	return strings.Join(keys, ", ")
}
