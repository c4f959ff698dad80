package dynamo

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/psabridge/psabridge/shared/alerting"
	"github.com/psabridge/psabridge/shared/apperr"
)

const skRule = "RULE#"

// AlertRule returns a tenant's rule for an alert type; NotFound when none.
func (s *Store) AlertRule(ctx context.Context, tenant string, t alerting.Type) (alerting.Rule, error) {
	var r alerting.Rule
	v, err := s.getDoc(ctx, tenantPK(tenant), skRule+string(t), &r)
	if err != nil {
		return alerting.Rule{}, err
	}
	if v == 0 {
		return alerting.Rule{}, apperr.New(apperr.NotFound, "no rule for alert type %q", t)
	}
	r.Version = v
	return r, nil
}

// AlertRules returns all of a tenant's rules (one Query).
func (s *Store) AlertRules(ctx context.Context, tenant string) ([]alerting.Rule, error) {
	var out []alerting.Rule
	var derr error
	err := s.queryPrefix(ctx, tenantPK(tenant), skRule, func(item map[string]types.AttributeValue) {
		var r alerting.Rule
		if doc, ok := item["doc"].(*types.AttributeValueMemberM); ok {
			if err := attributevalue.UnmarshalMap(doc.Value, &r); err != nil {
				derr = apperr.Wrap(err, apperr.Internal, "decode rule")
				return
			}
		}
		r.Version = num(item, "version")
		out = append(out, r)
	})
	if err == nil {
		err = derr
	}
	return out, err
}

// PutAlertRule stores a rule if ifVersion matches (0 when none stored,
// AnyVersion to skip the check). PreconditionFailed when stale.
func (s *Store) PutAlertRule(ctx context.Context, tenant string, r alerting.Rule, ifVersion int64) (alerting.Rule, error) {
	v, err := s.putDoc(ctx, tenantPK(tenant), skRule+string(r.Type), r, ifVersion, nil)
	r.Version = v
	return r, err
}
