package sandbox

import (
	"fmt"
	"net/http"
	"strings"
)

// AutotaskServiceState is a catalog Service as stored.
type AutotaskServiceState struct {
	ID                 int64
	Name               string
	Description        string
	InvoiceDescription string
	PeriodType         int64
	UnitPrice          float64
	UnitCost           float64
	BillingCodeID      int64
	Active             bool
}

// Services returns the instance's catalog Services in id order.
func (a *Autotask) Services(username string) []AutotaskServiceState {
	return withInstance(a, username, func(in *atInstance) []AutotaskServiceState {
		var out []AutotaskServiceState
		for _, r := range in.tables["Services"].rows {
			active, _ := r["isActive"].(bool)
			out = append(out, AutotaskServiceState{ID: rowInt(r, "id"), Name: rowStr(r, "name"), Description: rowStr(r, "description"),
				InvoiceDescription: rowStr(r, "invoiceDescription"), PeriodType: rowInt(r, "periodType"), UnitPrice: rowFloat(r, "unitPrice"),
				UnitCost: rowFloat(r, "unitCost"), BillingCodeID: rowInt(r, "billingCodeID"), Active: active})
		}
		return out
	})
}

// validateService applies the rules Autotask enforces on a Service: a
// name, unique among all Services (compared without case, as Autotask's
// duplicate check does), a period type and an active billing code.
func (in *atInstance) validateService(row atRow) error {
	name := strings.TrimSpace(rowStr(row, "name"))
	if name == "" {
		return atErrorf("Missing Required Field: name")
	}
	for _, other := range in.tables["Services"].rows {
		if rowInt(other, "id") != rowInt(row, "id") && strings.EqualFold(strings.TrimSpace(rowStr(other, "name")), name) {
			return atErrorf("A Service with the name '%s' already exists. Service names must be unique.", name)
		}
	}
	if row["periodType"] == nil {
		return atErrorf("Missing Required Field: periodType")
	}
	if err := in.checkPick("Services", "periodType", row["periodType"]); err != nil {
		return err
	}
	if row["billingCodeID"] == nil {
		return atErrorf("Missing Required Field: billingCodeID")
	}
	bc, ok := in.tables["BillingCodes"].byID[rowInt(row, "billingCodeID")]
	if active, _ := bc["isActive"].(bool); !ok || !active {
		return atErrorf("Reference value on field: billingCodeID of type: BillingCode does not exist or is invalid.")
	}
	return nil
}

// createService is POST Services.
func (in *atInstance) createService(body []byte) atResponse {
	f, err := decodeEntity("Services", body)
	if err != nil {
		return atFail(http.StatusInternalServerError, err.Error())
	}
	row := atRow{}
	for _, def := range atSchemas["Services"] {
		row[def.Name] = nil
	}
	row["isActive"] = true
	for k, v := range f {
		if def, _ := findField(atSchemas["Services"], k); !def.ReadOnly {
			row[k] = v
		}
	}
	row["id"] = int64(0)
	if err := in.validateService(row); err != nil {
		return atFail(http.StatusInternalServerError, err.Error())
	}
	row["id"] = in.id(0)
	in.tables["Services"].insert(row)
	return atOK(map[string]any{"itemId": row["id"]})
}

// patchService is PATCH Services with the id in the body.
func (in *atInstance) patchService(body []byte) atResponse {
	f, err := decodeEntity("Services", body)
	if err != nil {
		return atFail(http.StatusInternalServerError, err.Error())
	}
	id := rowInt(f, "id")
	row, ok := in.tables["Services"].byID[id]
	if !ok {
		return atFail(http.StatusNotFound, fmt.Sprintf("Service %d was not found.", id))
	}
	upd := atRow{}
	for k, v := range row {
		upd[k] = v
	}
	for k, v := range f {
		if def, _ := findField(atSchemas["Services"], k); !def.ReadOnly {
			upd[k] = v
		}
	}
	if err := in.validateService(upd); err != nil {
		return atFail(http.StatusInternalServerError, err.Error())
	}
	for k, v := range upd {
		row[k] = v
	}
	return atOK(map[string]any{"itemId": id})
}
