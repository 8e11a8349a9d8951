package connector

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// Table templates: a table entry whose name and location hold {topic} is one table per
// topic it reads (the layout of Debezium, one topic per source table): each listed
// topic, and each topic topic_pattern matches — as topics appear, within the topic
// refresh — gets a table of its own, with its own log, txns, schema and limits, opened
// (or created) by the poller when it first sees the topic and run like any other.

// topicPlaceholder is what a template's name, location and dead-letter location
// replace with the topic's name.
const topicPlaceholder = "{topic}"

// IsTemplate reports whether the entry is a table template.
func (t *TableConfig) IsTemplate() bool {
	return strings.Contains(t.Name, topicPlaceholder) || strings.Contains(t.Location, topicPlaceholder)
}

// instantiate is the template's table for one topic.
func (t *TableConfig) instantiate(topic string) *TableConfig {
	c := *t
	c.Name = strings.ReplaceAll(t.Name, topicPlaceholder, topic)
	c.Location = strings.ReplaceAll(t.Location, topicPlaceholder, topic)
	c.Topics, c.TopicPattern = []string{topic}, ""
	if t.DLQ != nil {
		d := *t.DLQ
		d.Location = strings.ReplaceAll(d.Location, topicPlaceholder, topic)
		d.Topic = strings.ReplaceAll(d.Topic, topicPlaceholder, topic)
		c.DLQ = &d
	}
	return &c
}

// template is a table template and the topics it has a table for.
type template struct {
	cfg     *TableConfig
	pattern *regexp.Regexp // nil: the listed topics only
	topics  map[string]bool
}

// templates are the connector's table templates; the poller's goroutine adds tables
// through them once running (before: open).
type templates struct {
	list []*template
	// The run's goroutine groups and context, for the tables added while it runs.
	hard                context.Context
	workers, committers *sync.WaitGroup
}

// addTemplate records a template and opens the tables of its listed topics.
func (c *Connector) addTemplate(ctx context.Context, cfg *TableConfig) error {
	tmpl := &template{cfg: cfg, topics: map[string]bool{}}
	if cfg.TopicPattern != "" {
		var err error
		if tmpl.pattern, err = compileTopicPattern(cfg.TopicPattern); err != nil {
			return fmt.Errorf("table %s: topic_pattern: %w", cfg.Name, err)
		}
	}
	c.templates.list = append(c.templates.list, tmpl)
	for _, topic := range cfg.Topics {
		if err := c.instantiate(ctx, tmpl, topic); err != nil {
			return err
		}
	}
	return nil
}

// instantiate opens the template's table for a topic and, when the run has started,
// starts it.
func (c *Connector) instantiate(ctx context.Context, tmpl *template, topic string) error {
	if tmpl.topics[topic] {
		return nil
	}
	cfg := tmpl.cfg.instantiate(topic)
	for _, t := range c.tables {
		if t.cfg.Location == cfg.Location || t.cfg.Name == cfg.Name {
			return fmt.Errorf("table template %s: topic %s: table %q (%s) is also another table's", tmpl.cfg.Name, topic, cfg.Name, cfg.Location)
		}
	}
	t, err := c.openTable(ctx, cfg)
	if err != nil {
		return fmt.Errorf("table template %s: topic %s: %w", tmpl.cfg.Name, topic, err)
	}
	if c.templates.hard != nil {
		t.start(c.templates.hard, c.templates.workers, c.templates.committers)
	}
	c.tables = append(c.tables, t)
	tmpl.topics[topic] = true
	c.log.Info("table for a new topic", "template", tmpl.cfg.Name, "topic", topic, "table", cfg.Name, "location", cfg.Location)
	return nil
}

// instantiatePatterns opens a table for each topic of the cluster that a template's
// topic_pattern matches and that has none yet (the poller's goroutine).
func (c *Connector) instantiatePatterns(ctx context.Context, all []string) error {
	slices.Sort(all)
	for _, tmpl := range c.templates.list {
		if tmpl.pattern == nil {
			continue
		}
		for _, topic := range all {
			if tmpl.pattern.MatchString(topic) {
				if err := c.instantiate(ctx, tmpl, topic); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// hasPatternTemplates reports whether a template matches topics by pattern.
func (c *Connector) hasPatternTemplates() bool {
	return slices.ContainsFunc(c.templates.list, func(t *template) bool { return t.pattern != nil })
}
