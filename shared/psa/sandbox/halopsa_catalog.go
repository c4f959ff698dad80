package sandbox

import (
	"cmp"
	"strings"
)

// The Halo resources of the catalog: items and item groups.

func init() {
	for k, h := range map[string]haloHandler{
		"GET /Item":      haloItems,
		"GET /Item/{id}": haloItemByID,
		"POST /Item":     haloPostItems,
		"GET /ItemGroup": haloItemGroups,
	} {
		haloRoutes[k] = h
	}
}

func (in *haloInstance) itemJSON(it *HaloItem) map[string]any {
	group, _ := haloOptionName(in.seed.ItemGroups, it.GroupID)
	return map[string]any{"id": it.ID, "name": it.Name, "description": it.Description,
		"internalreference": it.InternalReference, "baseprice": it.BasePrice, "costprice": it.CostPrice,
		"isrecurringitem": it.Recurring, "recurringprice": it.RecurringPrice, "recurringcost": it.RecurringCost,
		"item_default_billing_period": it.BillingPeriod, "assetgroup_id": it.GroupID, "assetgroup_name": group}
}

// haloItems lists items by name: includeactive/includeinactive, search
// (name contains), recurringonly, paging.
func haloItems(h *HaloPSA, in *haloInstance, r *haloReq) haloResp {
	active, inactive := includeActivity(&r.q)
	search := r.q.Str("search")
	recurring := r.q.Bool("recurringonly")
	var recs []*HaloItem
	for _, it := range haloSorted(in.items, func(it *HaloItem) int64 { return it.ID },
		func(a, b *HaloItem) int { return cmp.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)) }) {
		if (it.Inactive && !inactive) || (!it.Inactive && !active) || (recurring && !it.Recurring) ||
			(search != "" && !containsFold(it.Name, search)) {
			continue
		}
		recs = append(recs, it)
	}
	return haloList(&r.q, "items", recs, in.itemJSON)
}

func haloItemByID(h *HaloPSA, in *haloInstance, r *haloReq) haloResp {
	it := in.items[r.id]
	if it == nil {
		return haloNotFound("Item", r.id)
	}
	return haloOK(in.itemJSON(it))
}

// haloPostItems creates or updates items. A name is required and unique
// among items, compared without case (unverified for Halo; it keeps
// psabridge's catalog push honest, as Autotask and ConnectWise do); an
// item group must exist. All or nothing.
func haloPostItems(h *HaloPSA, in *haloInstance, r *haloReq) haloResp {
	objs, fail := haloDecodeArray(r.body, "Item")
	if fail != nil {
		return *fail
	}
	var staged []HaloItem
	names := map[string]int64{}
	for _, it := range in.items {
		names[strings.ToLower(strings.TrimSpace(it.Name))] = it.ID
	}
	for i := range objs {
		o := &objs[i]
		var it HaloItem
		if id := o.Int("id"); id != 0 {
			cur := in.items[id]
			if cur == nil {
				return haloNotFound("Item", id)
			}
			it = *cur
		}
		str := func(k string, dst *string) {
			if o.has(k) {
				*dst = o.Str(k)
			}
		}
		num := func(k string, dst *float64) {
			if o.has(k) {
				*dst = o.Float(k)
			}
		}
		str("name", &it.Name)
		str("description", &it.Description)
		str("internalreference", &it.InternalReference)
		num("baseprice", &it.BasePrice)
		num("costprice", &it.CostPrice)
		num("recurringprice", &it.RecurringPrice)
		num("recurringcost", &it.RecurringCost)
		if o.has("isrecurringitem") {
			it.Recurring = o.Bool("isrecurringitem")
		}
		if o.has("item_default_billing_period") {
			it.BillingPeriod = o.Int("item_default_billing_period")
		}
		if o.has("assetgroup_id") {
			it.GroupID = o.Int("assetgroup_id")
		}
		if bad := o.badFields("Item"); bad != nil {
			return *bad
		}
		key := strings.ToLower(strings.TrimSpace(it.Name))
		if key == "" {
			return haloBad("Please enter a Name for the item.")
		}
		owner := it.ID
		if owner == 0 {
			owner = -int64(i + 1) // a new item of this post
		}
		if other, ok := names[key]; ok && other != owner {
			return haloBad("An item with the name '%s' already exists.", strings.TrimSpace(it.Name))
		}
		names[key] = owner
		if it.GroupID != 0 {
			if _, ok := haloOptionName(in.seed.ItemGroups, it.GroupID); !ok {
				return haloBad("Please select a valid Item Group (%d does not exist).", it.GroupID)
			}
		}
		staged = append(staged, it)
	}
	var out []map[string]any
	allNew := true
	for _, it := range staged {
		if it.ID == 0 {
			it.ID = in.newID()
		} else {
			allNew = false
		}
		in.items[it.ID] = &it
		out = append(out, in.itemJSON(&it))
	}
	return haloAnswer(out, allNew)
}

// haloItemGroups lists item groups (a bare array).
func haloItemGroups(h *HaloPSA, in *haloInstance, r *haloReq) haloResp {
	return haloOK(optionRows(in.seed.ItemGroups, false, nil))
}
