package connector

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
)

// compileTopicPattern compiles a topic_pattern as it runs: Go's regular expression
// syntax (RE2), matched against the whole topic name, as Kafka Connect's topics.regex
// is. "orders" matches orders only; "orders.*" matches orders_v2 too.
func compileTopicPattern(pattern string) (*regexp.Regexp, error) {
	return regexp.Compile("^(?:" + pattern + ")$")
}

// reads reports whether the table consumes the topic.
func (t *ingestTable) reads(topic string) bool {
	return slices.Contains(t.cfg.Topics, topic) || (t.pattern != nil && t.pattern.MatchString(topic))
}

// topicSet is a sorted list of topic names.
type topicSet []string

func (s topicSet) names() []string { return s }
func (s topicSet) has(topic string) bool {
	_, ok := slices.BinarySearch(s, topic)
	return ok
}

// refreshTopics subscribes the consumer to the topics the tables read: the named ones
// and the cluster's topics that a topic_pattern matches. Sluice resolves patterns
// itself, so that one regular expression dialect decides both what is fetched and
// which table a message goes to; new matching topics are picked up within topicRefresh.
func (p *poller) refreshTopics(initial bool) error {
	if p.conn.hasPatternTemplates() {
		all, err := p.cons.Topics()
		if err != nil {
			return err
		}
		names := make([]string, 0, len(all))
		for name := range all {
			names = append(names, name)
		}
		// A table that cannot be opened stops the connector, as at start.
		if err := p.conn.instantiatePatterns(p.hard, names); err != nil {
			p.conn.fail(err)
			return nil
		}
	}
	set := map[string]bool{}
	patterns := false
	for _, t := range p.conn.tables {
		for _, name := range t.cfg.Topics {
			set[name] = true
		}
		patterns = patterns || t.pattern != nil
	}
	if patterns {
		all, err := p.cons.Topics()
		if err != nil {
			return err
		}
		for name := range all {
			for _, t := range p.conn.tables {
				if t.pattern != nil && t.pattern.MatchString(name) {
					set[name] = true
				}
			}
		}
	}
	next := make(topicSet, 0, len(set))
	for name := range set {
		next = append(next, name)
	}
	sort.Strings(next)
	if slices.Equal(next, p.topics) && !initial {
		return nil
	}
	if len(next) == 0 {
		if initial {
			p.log.Warn("topic_pattern matches no topic yet; checking again periodically", "every", topicRefresh)
		}
		return nil
	}
	if err := p.cons.Subscribe(next, p.rebalance); err != nil {
		return fmt.Errorf("kafka: subscribe %v: %w", []string(next), err)
	}
	if !initial {
		p.log.Info("subscription changed", "topics", []string(next))
	}
	p.topics = next
	clear(p.topicTables)
	return nil
}
