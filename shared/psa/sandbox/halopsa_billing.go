package sandbox

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The Halo resources of clients, contracts and recurring billing.

func init() {
	for k, h := range map[string]haloHandler{
		"GET /Client":                        haloClients,
		"GET /Client/{id}":                   haloClientByID,
		"GET /TopLevel":                      haloTopLevels,
		"GET /ClientContract":                haloContracts,
		"GET /ClientContract/{id}":           haloContractByID,
		"GET /RecurringInvoice":              haloInvoices,
		"GET /RecurringInvoice/{id}":         haloInvoiceByID,
		"POST /RecurringInvoice":             haloPostInvoices,
		"POST /RecurringInvoice/updatelines": haloUpdateLines,
	} {
		haloRoutes[k] = h
	}
}

// haloSorted returns the values of m ordered by less, then id.
func haloSorted[V any](m map[int64]*V, id func(*V) int64, less func(a, b *V) int) []*V {
	out := make([]*V, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b *V) int {
		if less != nil {
			if c := less(a, b); c != 0 {
				return c
			}
		}
		return cmp.Compare(id(a), id(b))
	})
	return out
}

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}

func haloOptionName(opts []HaloOption, id int64) (string, bool) {
	for _, o := range opts {
		if o.ID == id {
			return o.Name, true
		}
	}
	return "", false
}

func (in *haloInstance) clientJSON(c *HaloClient) map[string]any {
	tl, _ := haloOptionName(in.seed.TopLevels, c.TopLevelID)
	return map[string]any{"id": c.ID, "name": c.Name, "toplevel_id": c.TopLevelID, "toplevel_name": tl,
		"inactive": c.Inactive, "customertype": c.ClientType, "colour": "#4a90d9", "use": "client"}
}

// includeActivity reads includeactive (default true) and includeinactive
// (default false).
func includeActivity(q *haloQuery) (active, inactive bool) {
	active = true
	if _, ok := q.raw("includeactive"); ok {
		active = q.Bool("includeactive")
	}
	return active, q.Bool("includeinactive")
}

// haloClients lists clients by name: search (name contains),
// toplevel_id, includeactive/includeinactive, paging.
func haloClients(h *HaloPSA, in *haloInstance, r *haloReq) haloResp {
	search := r.q.Str("search")
	tl, byTL := r.q.Int("toplevel_id")
	active, inactive := includeActivity(&r.q)
	var recs []*HaloClient
	for _, c := range haloSorted(in.clients, func(c *HaloClient) int64 { return c.ID },
		func(a, b *HaloClient) int { return cmp.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)) }) {
		if (c.Inactive && !inactive) || (!c.Inactive && !active) || (byTL && c.TopLevelID != tl) ||
			(search != "" && !containsFold(c.Name, search)) {
			continue
		}
		recs = append(recs, c)
	}
	return haloList(&r.q, "clients", recs, in.clientJSON)
}

func haloClientByID(h *HaloPSA, in *haloInstance, r *haloReq) haloResp {
	c := in.clients[r.id]
	if c == nil {
		return haloNotFound("Client", r.id)
	}
	return haloOK(in.clientJSON(c))
}

// haloTopLevels lists the top levels ({record_count, tree}).
func haloTopLevels(h *HaloPSA, in *haloInstance, r *haloReq) haloResp {
	var recs []HaloOption
	for _, o := range in.seed.TopLevels {
		if !o.Inactive || r.q.Bool("show_all") {
			recs = append(recs, o)
		}
	}
	return haloList(&r.q, "tree", recs, func(o HaloOption) map[string]any {
		return map[string]any{"id": o.ID, "name": o.Name, "type": 0}
	})
}

func (h *HaloPSA) contractJSON(in *haloInstance, c *HaloContract) map[string]any {
	var name string
	if cl := in.clients[c.ClientID]; cl != nil {
		name = cl.Name
	}
	now := h.s.now()
	status := "Active"
	switch {
	case c.Inactive:
		status = "Inactive"
	case now.After(c.EndDate):
		status = "Expired"
	}
	return map[string]any{"id": c.ID, "client_id": c.ClientID, "client_name": name, "ref": c.Ref,
		"start_date": haloTime(c.StartDate), "end_date": haloTime(c.EndDate), "active": !c.Inactive,
		"started": !now.Before(c.StartDate), "expired": now.After(c.EndDate), "contract_status": status}
}

// haloContracts lists contracts: client_id, includeinactive, search (ref
// contains), paging.
func haloContracts(h *HaloPSA, in *haloInstance, r *haloReq) haloResp {
	client, byClient := r.q.Int("client_id")
	inactive := r.q.Bool("includeinactive")
	search := r.q.Str("search")
	var recs []*HaloContract
	for _, c := range haloSorted(in.contracts, func(c *HaloContract) int64 { return c.ID }, nil) {
		if (byClient && c.ClientID != client) || (c.Inactive && !inactive) || (search != "" && !containsFold(c.Ref, search)) {
			continue
		}
		recs = append(recs, c)
	}
	return haloList(&r.q, "contracts", recs, func(c *HaloContract) map[string]any { return h.contractJSON(in, c) })
}

func haloContractByID(h *HaloPSA, in *haloInstance, r *haloReq) haloResp {
	c := in.contracts[r.id]
	if c == nil {
		return haloNotFound("Contract", r.id)
	}
	return haloOK(h.contractJSON(in, c))
}

// haloNoDate is how Halo renders an unset billing date (docs/HALOPSA.md
// section 5.2: "no end" is empty or 1900-01-01).
const haloNoDate = "1900-01-01T00:00:00"

// haloBillingDate renders a recurring invoice's or line's date, unset ones
// as haloNoDate, so a client must not read them as a real end.
func haloBillingDate(t time.Time) any {
	if t.IsZero() {
		return haloNoDate
	}
	return haloTime(t)
}

func (in *haloInstance) lineJSON(l *HaloInvoiceLine) map[string]any {
	var code string
	if it := in.items[l.ItemID]; it != nil {
		code = it.InternalReference
	}
	return map[string]any{"id": l.ID, "ihid": l.InvoiceID, "_itemid": l.ItemID, "item_code": code,
		"item_shortdescription": l.Description, "qty_order": l.Quantity, "unit_price": l.UnitPrice,
		"unit_cost": l.UnitCost, "net_amount": l.Quantity * l.UnitPrice, "isinactive": l.Inactive,
		"startdate": haloBillingDate(l.StartDate), "enddate": haloBillingDate(l.EndDate)}
}

// linesByInvoice returns every invoice's lines in id order, in one pass.
func (in *haloInstance) linesByInvoice() map[int64][]*HaloInvoiceLine {
	out := map[int64][]*HaloInvoiceLine{}
	for _, l := range in.lines {
		out[l.InvoiceID] = append(out[l.InvoiceID], l)
	}
	for _, ls := range out {
		slices.SortFunc(ls, func(a, b *HaloInvoiceLine) int { return cmp.Compare(a.ID, b.ID) })
	}
	return out
}

// invoiceJSON renders a header, with lines (from linesByInvoice) unless
// lines is nil.
func (in *haloInstance) invoiceJSON(inv *HaloRecurringInvoice, lines map[int64][]*HaloInvoiceLine) map[string]any {
	var client, ref string
	if c := in.clients[inv.ClientID]; c != nil {
		client = c.Name
	}
	if c := in.contracts[inv.ContractID]; c != nil {
		ref = c.Ref
	}
	j := map[string]any{"id": inv.ID, "client_id": inv.ClientID, "client_name": client, "contract_id": inv.ContractID,
		"contract_ref": ref, "reference": inv.Reference, "disabled": inv.Disabled, "is_recurring_invoice": true,
		"startdate": haloBillingDate(inv.StartDate), "enddate": haloBillingDate(inv.EndDate)}
	if lines != nil {
		rows := []map[string]any{}
		for _, l := range lines[inv.ID] {
			rows = append(rows, in.lineJSON(l))
		}
		j["lines"] = rows
	}
	return j
}

// haloIDList parses a comma-separated id list parameter.
func haloIDList(q *haloQuery, name string) (map[int64]bool, bool) {
	s := q.Str(name)
	if s == "" {
		return nil, false
	}
	ids := map[int64]bool{}
	for _, part := range strings.Split(s, ",") {
		n, err := strconv.ParseInt(strings.TrimSpace(part), 10, 64)
		if err != nil {
			q.fail(name, s)
			return nil, false
		}
		ids[n] = true
	}
	return ids, true
}

// haloInvoices lists recurring invoices: client_id, client_ids,
// contract_id, includelines, paging.
func haloInvoices(h *HaloPSA, in *haloInstance, r *haloReq) haloResp {
	client, byClient := r.q.Int("client_id")
	clients, byClients := haloIDList(&r.q, "client_ids")
	contract, byContract := r.q.Int("contract_id")
	var lines map[int64][]*HaloInvoiceLine
	if r.q.Bool("includelines") {
		lines = in.linesByInvoice()
	}
	var recs []*HaloRecurringInvoice
	for _, inv := range haloSorted(in.invoices, func(v *HaloRecurringInvoice) int64 { return v.ID }, nil) {
		if (byClient && inv.ClientID != client) || (byClients && !clients[inv.ClientID]) || (byContract && inv.ContractID != contract) {
			continue
		}
		recs = append(recs, inv)
	}
	return haloList(&r.q, "invoices", recs, func(inv *HaloRecurringInvoice) map[string]any { return in.invoiceJSON(inv, lines) })
}

func haloInvoiceByID(h *HaloPSA, in *haloInstance, r *haloReq) haloResp {
	inv := in.invoices[r.id]
	if inv == nil {
		return haloNotFound("Recurring invoice", r.id)
	}
	if r.q.Bool("includedetails"); r.q.errs != nil {
		return haloProblem(r.q.errs)
	}
	return haloOK(in.invoiceJSON(inv, in.linesByInvoice()))
}

// haloLineChange is a validated line write, applied once the whole post is
// valid.
type haloLineChange struct {
	line    HaloInvoiceLine
	created bool
	write   HaloLineWrite
}

// stageLine validates one posted InvoiceDetail for invoice invID and
// returns the change; a line with an id updates that line of the invoice,
// one without creates a line, which needs a catalog item.
func (in *haloInstance) stageLine(o *haloObj, invID int64, route string) (haloLineChange, *haloResp) {
	id := o.Int("id")
	var ch haloLineChange
	if id != 0 {
		cur := in.lines[id]
		if cur == nil || cur.InvoiceID != invID {
			nf := haloNotFound("Invoice line", id)
			return ch, &nf
		}
		ch.line = *cur
	} else {
		// The item is InvoiceDetail._itemid; Halo's binder ignores names
		// the definition does not have (an "item_id" is dropped).
		itemID := o.Int("_itemid")
		it := in.items[itemID]
		switch {
		case itemID == 0:
			b := haloBad("Please select an item for the new invoice line.")
			return ch, &b
		case it == nil:
			b := haloBad("Item %d does not exist.", itemID)
			return ch, &b
		case it.Inactive:
			b := haloBad("Item %d (%s) is inactive.", itemID, it.Name)
			return ch, &b
		}
		ch.created = true
		// A new line takes its description and prices from the item.
		ch.line = HaloInvoiceLine{InvoiceID: invID, ItemID: it.ID, Description: it.Name, UnitPrice: it.BasePrice, UnitCost: it.CostPrice}
		if it.Recurring {
			ch.line.UnitPrice, ch.line.UnitCost = it.RecurringPrice, it.RecurringCost
		}
	}
	ch.write = HaloLineWrite{Route: route, InvoiceID: invID, LineID: id, Created: ch.created}
	num := func(k string, dst *float64) *float64 {
		if !o.has(k) {
			return nil
		}
		v := o.Float(k)
		*dst = v
		return &v
	}
	ch.write.Quantity = num("qty_order", &ch.line.Quantity)
	ch.write.UnitPrice = num("unit_price", &ch.line.UnitPrice)
	ch.write.UnitCost = num("unit_cost", &ch.line.UnitCost)
	if o.has("item_shortdescription") {
		ch.line.Description = o.Str("item_shortdescription")
	}
	if o.has("isinactive") {
		ch.line.Inactive = o.Bool("isinactive")
	}
	if o.has("startdate") {
		ch.line.StartDate = o.Time("startdate")
	}
	if o.has("enddate") {
		ch.line.EndDate = o.Time("enddate")
	}
	if bad := o.badFields("InvoiceDetail"); bad != nil {
		return ch, bad
	}
	return ch, nil
}

// applyLine stores a staged line change and logs its write.
func (in *haloInstance) applyLine(ch haloLineChange) *HaloInvoiceLine {
	l := ch.line
	if ch.created {
		l.ID = in.newID()
		ch.write.LineID = l.ID
	}
	in.lines[l.ID] = &l
	if ch.write.Quantity != nil || ch.write.UnitPrice != nil || ch.write.UnitCost != nil || ch.created {
		in.writes = append(in.writes, ch.write)
	}
	return &l
}

// haloPostInvoices creates or updates recurring invoice headers, with
// their lines (each line upserted as by updatelines). The whole post is
// validated before anything is stored.
func haloPostInvoices(h *HaloPSA, in *haloInstance, r *haloReq) haloResp {
	objs, fail := haloDecodeArray(r.body, "InvoiceHeader")
	if fail != nil {
		return *fail
	}
	type staged struct {
		inv   HaloRecurringInvoice
		isNew bool
		lines []haloLineChange
	}
	var all []staged
	for i := range objs {
		o := &objs[i]
		var st staged
		if id := o.Int("id"); id != 0 {
			cur := in.invoices[id]
			if cur == nil {
				return haloNotFound("Recurring invoice", id)
			}
			st.inv = *cur
		} else {
			st.isNew = true
		}
		if o.has("client_id") || st.isNew {
			st.inv.ClientID = o.Int("client_id")
		}
		if c := in.clients[st.inv.ClientID]; c == nil {
			return haloBad("Please select a valid client (client %d does not exist).", st.inv.ClientID)
		}
		if o.has("contract_id") {
			st.inv.ContractID = o.Int("contract_id")
		}
		if st.inv.ContractID != 0 {
			c := in.contracts[st.inv.ContractID]
			if c == nil || c.ClientID != st.inv.ClientID {
				return haloBad("Contract %d does not exist for client %d.", st.inv.ContractID, st.inv.ClientID)
			}
		}
		if o.has("reference") {
			st.inv.Reference = o.Str("reference")
		}
		if o.has("disabled") {
			st.inv.Disabled = o.Bool("disabled")
		}
		if o.has("startdate") {
			st.inv.StartDate = o.Time("startdate")
		}
		if o.has("enddate") {
			st.inv.EndDate = o.Time("enddate")
		}
		if bad := o.badFields("InvoiceHeader"); bad != nil {
			return *bad
		}
		if raw, ok := o.m["lines"]; ok && raw != nil {
			list, ok := raw.([]any)
			if !ok {
				return haloProblem(map[string][]string{"[0].lines": {"The JSON value could not be converted to System.Collections.Generic.List`1[InvoiceDetail]."}})
			}
			for _, el := range list {
				m, ok := el.(map[string]any)
				if !ok {
					return haloProblem(map[string][]string{"[0].lines": {"The JSON value could not be converted to InvoiceDetail."}})
				}
				ch, fail := in.stageLine(&haloObj{m: m}, st.inv.ID, r.route)
				if fail != nil {
					return *fail
				}
				st.lines = append(st.lines, ch)
			}
		}
		all = append(all, st)
	}
	var out []map[string]any
	allNew := true
	for _, st := range all {
		inv := st.inv
		if st.isNew {
			inv.ID = in.newInvoiceID()
		} else {
			allNew = false
		}
		in.invoices[inv.ID] = &inv
		for _, ch := range st.lines {
			ch.line.InvoiceID, ch.write.InvoiceID = inv.ID, inv.ID
			in.applyLine(ch)
		}
		out = append(out, in.invoiceJSON(&inv, in.linesByInvoice()))
	}
	return haloAnswer(out, allNew)
}

// haloUpdateLines upserts recurring invoice lines: each InvoiceDetail
// names its invoice (ihid); with an id it updates that line, without one
// it creates a line of its item (_itemid). All or nothing.
func haloUpdateLines(h *HaloPSA, in *haloInstance, r *haloReq) haloResp {
	objs, fail := haloDecodeArray(r.body, "InvoiceDetail")
	if fail != nil {
		return *fail
	}
	var staged []haloLineChange
	for i := range objs {
		o := &objs[i]
		inv := o.Int("ihid")
		if bad := o.badFields("InvoiceDetail"); bad != nil {
			return *bad
		}
		if in.invoices[inv] == nil {
			return haloNotFound("Recurring invoice", inv)
		}
		ch, fail := in.stageLine(o, inv, r.route)
		if fail != nil {
			return *fail
		}
		staged = append(staged, ch)
	}
	var out []map[string]any
	allNew := true
	for _, ch := range staged {
		allNew = allNew && ch.created
		out = append(out, in.lineJSON(in.applyLine(ch)))
	}
	return haloAnswer(out, allNew)
}
