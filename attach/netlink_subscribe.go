package attach

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/vishvananda/netlink"
	"go.uber.org/zap"
)

// Subscribe reports link changes and default-route changes until ctx is
// done. If a netlink subscription dies (the socket overflowed: ENOBUFS), it
// reports the error, subscribes again and sends EventResync.
func (s *NetlinkSource) Subscribe(ctx context.Context) (<-chan LinkEvent, error) {
	sub, err := s.subscribe()
	if err != nil {
		return nil, err
	}
	out := make(chan LinkEvent, 64)
	go s.forward(ctx, sub, out)
	return out, nil
}

// subscription is one pair of netlink subscriptions: links and routes.
type subscription struct {
	links      chan netlink.LinkUpdate
	routes     chan netlink.RouteUpdate
	errs       chan error
	done       chan struct{}
	linksOpen  bool // the library's reader goroutine runs and will close links
	routesOpen bool
}

func (s *NetlinkSource) subscribe() (*subscription, error) {
	sub := &subscription{
		links:  make(chan netlink.LinkUpdate, 256),
		routes: make(chan netlink.RouteUpdate, 256),
		errs:   make(chan error, 16),
		done:   make(chan struct{}),
	}
	onError := func(err error) {
		select {
		case sub.errs <- err:
		default: // a burst of errors: the first ones tell the story
		}
	}
	err := netlink.LinkSubscribeWithOptions(sub.links, sub.done, netlink.LinkSubscribeOptions{
		Namespace:     s.ns,
		ErrorCallback: onError,
		// No ListExisting: the watcher subscribes first and then lists
		// (and lists again after EventResync), which leaves no gap either.
		// A replayed dump would only make it retry, right after start,
		// every link it just failed to attach.
	})
	if err != nil {
		sub.stop()
		return nil, fmt.Errorf("subscribe to links: %w", err)
	}
	sub.linksOpen = true
	err = netlink.RouteSubscribeWithOptions(sub.routes, sub.done, netlink.RouteSubscribeOptions{
		Namespace:     s.ns,
		ErrorCallback: onError,
	})
	if err != nil {
		sub.stop()
		return nil, fmt.Errorf("subscribe to routes: %w", err)
	}
	sub.routesOpen = true
	return sub, nil
}

// stop closes the sockets. The library's reader goroutines may be blocked
// sending to the update channels, so those are drained until they close.
func (sub *subscription) stop() {
	close(sub.done)
	if sub.linksOpen {
		go func() {
			for range sub.links {
			}
		}()
	}
	if sub.routesOpen {
		go func() {
			for range sub.routes {
			}
		}()
	}
}

func (s *NetlinkSource) forward(ctx context.Context, sub *subscription, out chan<- LinkEvent) {
	defer close(out)
	send := func(ev LinkEvent) bool {
		select {
		case out <- ev:
			return true
		case <-ctx.Done():
			return false
		}
	}
	for {
		var ev LinkEvent
		var lost bool
		select {
		case <-ctx.Done():
			sub.stop()
			return
		case u, ok := <-sub.links:
			if !ok {
				sub.linksOpen = false
				lost = true
				break
			}
			var relevant bool
			if ev, relevant = linkEvent(u); !relevant {
				continue
			}
		case u, ok := <-sub.routes:
			if !ok {
				sub.routesOpen = false
				lost = true
				break
			}
			if !isDefaultRoute(u.Route) {
				continue
			}
			ev = LinkEvent{Kind: EventRoutesChanged}
		case err := <-sub.errs:
			ev = LinkEvent{Kind: EventError, Err: fmt.Errorf("netlink subscription: %w", err)}
		}
		if lost {
			sub.stop()
			if sub = s.resubscribe(ctx); sub == nil {
				return
			}
			if !send(LinkEvent{Kind: EventError, Err: errSubscriptionLost}) {
				sub.stop()
				return
			}
			ev = LinkEvent{Kind: EventResync}
		}
		if !send(ev) {
			sub.stop()
			return
		}
	}
}

// resubscribe retries with a growing wait until it succeeds or ctx is done
// (then it returns nil).
func (s *NetlinkSource) resubscribe(ctx context.Context) *subscription {
	wait := minResubscribeWait
	for {
		s.log.Warn("netlink subscription lost; subscribing again", zap.Duration("after", wait))
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-timer.C:
		}
		sub, err := s.subscribe()
		if err == nil {
			return sub
		}
		s.log.Warn("netlink subscription failed", zap.Error(err))
		wait = min(2*wait, maxResubscribeWait)
	}
}

// errSubscriptionLost is reported when a netlink subscription died and was
// replaced: events may have been lost in between.
var errSubscriptionLost = errors.New("netlink subscription lost (socket overflow?); subscribed again")
