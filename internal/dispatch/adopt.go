package dispatch

import (
	"context"
	"errors"
	"os"
	"syscall"
	"time"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/pyexec"
)

// register records this dispatcher and marks stopped the dispatchers of
// this machine whose process is gone (killed, or the machine slept through
// their heartbeat), so their runs can be adopted at once.
func (d *dispatcher) register(ctx context.Context) error {
	if err := d.db.RegisterDispatcher(ctx, d.opts.Dispatcher, hostname(), os.Getpid()); err != nil {
		return err
	}
	return d.reapDead(ctx)
}

func (d *dispatcher) reapDead(ctx context.Context) error {
	all, err := d.db.Dispatchers(ctx)
	if err != nil {
		return err
	}
	me := hostname()
	for _, o := range all {
		if o.ID == d.opts.Dispatcher || o.Hostname != me || processAlive(o.PID) {
			continue
		}
		if err := d.db.StopDispatcher(ctx, o.ID); err != nil {
			return err
		}
		d.logf("dispatcher %s is gone; its runs will be adopted", o.ID)
	}
	return nil
}

// processAlive reports whether a process of this machine exists.
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// adopt takes over, on each up host, the orders whose dispatcher died, and
// waits on their runs again.
func (d *dispatcher) adopt(ctx context.Context) {
	now := time.Now()
	reaped := false
	for _, hs := range d.hosts {
		if hs.status != hostUp || hs.h == nil || now.Before(hs.nextAdopt) {
			continue
		}
		hs.nextAdopt = now.Add(adoptEvery)
		if !reaped {
			// Once per pass, not per host: it reads every dispatcher.
			if err := d.reapDead(ctx); err != nil {
				d.warnf("%v", err)
				return
			}
			reaped = true
		}
		claims, err := d.db.AdoptOrders(ctx, d.opts.Dispatcher, hs.cfg.Name, now.Add(-staleAfter))
		if err != nil {
			if ctx.Err() == nil {
				d.warnf("%v", err)
			}
			continue
		}
		hs.adopted = true
		late, err := d.db.AbandonedAttempts(ctx, hs.cfg.Name)
		if err != nil {
			if ctx.Err() == nil {
				d.warnf("%v", err)
			}
			continue
		}
		for _, c := range late {
			key := pyexec.RunID(d.queue, c.Order.ID, c.Order.Attempt)
			if hs.late[key] {
				continue
			}
			hs.late[key] = true
			d.wg.Add(1)
			go d.lateOne(ctx, hs, c)
		}
		d.adoptFetches(ctx, hs)
		for i := range claims {
			c := claims[i]
			if _, ok := hs.running[keyOf(c.Order)]; ok {
				continue
			}
			slot := c.Order.Slot
			hs.takeFree(slot)
			k := &killer{}
			hs.running[keyOf(c.Order)] = &runHandle{slot: slot, attempt: c.Order.Attempt, k: k}
			d.sum.Adopted++
			d.logf("order %d attempt %d on %s adopted: reattaching to its run", c.Order.ID, c.Order.Attempt, hs.cfg.Name)
			d.wg.Add(1)
			go d.attachOne(ctx, hs, slot, &c, k)
		}
	}
}

// checkOrders kills the runs whose order was cancelled, or finished by
// another attempt, since they started.
func (d *dispatcher) checkOrders(ctx context.Context) {
	var ids []int64
	for _, hs := range d.hosts {
		for key := range hs.running {
			ids = append(ids, key.order)
		}
	}
	if len(ids) == 0 {
		return
	}
	states, err := d.db.OrderStates(ctx, ids)
	if err != nil {
		if ctx.Err() == nil {
			d.warnf("%v", err)
		}
		return
	}
	for _, hs := range d.hosts {
		for key, r := range hs.running {
			id := key.order
			o, ok := states[id]
			if !ok || hs.h == nil || r.ended {
				continue // an ended run's outcome is being saved: nothing to kill
			}
			switch {
			case o.State == db.StateCancelled:
				d.kill(ctx, hs, r.k, pyexec.RunID(d.queue, id, r.attempt), "cancelled")
			case o.State == db.StatePruned && o.Attempt == r.attempt:
				d.kill(ctx, hs, r.k, pyexec.RunID(d.queue, id, r.attempt), "pruned")
			case o.Attempt != r.attempt || o.AttemptState == db.StateCancelled:
				d.kill(ctx, hs, r.k, pyexec.RunID(d.queue, id, r.attempt), "superseded by another attempt")
			}
		}
	}
}
