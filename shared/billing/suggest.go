package billing

import (
	"cmp"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/psabridge/psabridge/shared/psa"
)

// legalSuffixes are company-form words that say nothing about which
// company it is ("Acme, Inc." is "Acme"). They are dropped only at the end
// of a name, repeatedly ("Pty Ltd", "GmbH & Co. KG").
var legalSuffixes = map[string]bool{
	"inc": true, "incorporated": true, "llc": true, "llp": true, "lp": true, "ltd": true, "limited": true,
	"corp": true, "corporation": true, "co": true, "company": true, "plc": true, "pty": true, "pc": true, "pllc": true,
	"gmbh": true, "ag": true, "kg": true, "ug": true, "sa": true, "sas": true, "sarl": true, "srl": true, "spa": true,
	"bv": true, "nv": true, "ab": true, "as": true, "oy": true, "aps": true, "kk": true, "sl": true,
}

// nameTokens lower-cases a name and splits it into words: "&" and "+" read
// as "and"; apostrophes and dots join ("O'Brien" → obrien, "S.A." → sa);
// any other punctuation separates.
func nameTokens(s string) []string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r == '&' || r == '+':
			b.WriteString(" and ")
		case r == '\'' || r == '’' || r == '.':
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		default:
			b.WriteRune(' ')
		}
	}
	return strings.Fields(b.String())
}

// coreTokens drops a leading "the" and trailing legal suffixes (and an
// "and" left dangling between them), keeping at least one word.
func coreTokens(toks []string) []string {
	if len(toks) > 1 && toks[0] == "the" {
		toks = toks[1:]
	}
	for len(toks) > 1 && (legalSuffixes[toks[len(toks)-1]] || toks[len(toks)-1] == "and") {
		toks = toks[:len(toks)-1]
	}
	return toks
}

// NormalizeName returns the comparable form of a company or org name:
// lower case, punctuation and whitespace folded, "&" as "and", legal
// suffixes (Inc, LLC, Ltd, GmbH, Corp, Co, PLC, Pty, SA, AG, BV…) dropped.
// "ACME Inc" and "Acme, Inc." both give "acme".
func NormalizeName(s string) string { return strings.Join(coreTokens(nameTokens(s)), " ") }

// NameScore rates how well a PSA company name matches an org name, from 0
// (nothing alike) to 1 (the same, suffix and all). The normalized names
// weigh 0.9; the names with their suffixes 0.1, so of "Acme, Inc." and
// "Acme LLC" the one with the org's own suffix ranks first.
func NameScore(org, company string) float64 {
	ot, ct := nameTokens(org), nameTokens(company)
	return 0.9*similarity(coreTokens(ot), coreTokens(ct)) + 0.1*similarity(ot, ct)
}

// similarity of two token lists: 1 when equal, else the mean of the word
// overlap (Dice) and the character-bigram overlap of the joined words,
// which forgives typos and spacing ("Micro Soft" / "Microsoft").
func similarity(a, b []string) float64 {
	if len(a) == 0 || len(b) == 0 {
		return 0
	}
	if slices.Equal(a, b) {
		return 1
	}
	return (dice(a, b) + dice(bigrams(strings.Join(a, "")), bigrams(strings.Join(b, "")))) / 2
}

// dice is the Sørensen–Dice coefficient of two multisets.
func dice(a, b []string) float64 {
	if len(a)+len(b) == 0 {
		return 0
	}
	count := map[string]int{}
	for _, x := range a {
		count[x]++
	}
	common := 0
	for _, x := range b {
		if count[x] > 0 {
			count[x]--
			common++
		}
	}
	return 2 * float64(common) / float64(len(a)+len(b))
}

func bigrams(s string) []string {
	r := []rune(s)
	if len(r) < 2 {
		return []string{s}
	}
	out := make([]string, 0, len(r)-1)
	for i := 0; i+1 < len(r); i++ {
		out = append(out, string(r[i:i+2]))
	}
	return out
}

// CompanySuggestion is a PSA company proposed for an org, with its score.
type CompanySuggestion struct {
	Company psa.Company `json:"company"`
	Score   float64     `json:"score"`
}

// MinSuggestionScore is the lowest score worth showing.
const MinSuggestionScore = 0.5

// RankCompanies ranks the active companies of the tenant's chosen company
// types by NameScore against orgName, best first (ties by name, then id),
// keeping those scoring at least minScore, at most limit (0: all). A
// company of none of typeIDs is never suggested; an empty typeIDs
// suggests nothing.
func RankCompanies(orgName string, companies []psa.Company, typeIDs []int64, minScore float64, limit int) []CompanySuggestion {
	out := []CompanySuggestion{}
	for _, c := range companies {
		if !c.Active || !slices.ContainsFunc(c.TypeIDs, func(id int64) bool { return slices.Contains(typeIDs, id) }) {
			continue
		}
		if s := NameScore(orgName, c.Name); s >= minScore {
			out = append(out, CompanySuggestion{Company: c, Score: s})
		}
	}
	slices.SortFunc(out, func(a, b CompanySuggestion) int {
		return cmp.Or(cmp.Compare(b.Score, a.Score), strings.Compare(a.Company.Name, b.Company.Name), cmp.Compare(a.Company.ID, b.Company.ID))
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out
}

// ChooseContract picks the contract to propose among a company's: active,
// recurring, not ended at at; one in force at at before one that starts
// later; then the latest start; then the lowest id. false when none fits.
func ChooseContract(contracts []psa.Contract, at time.Time) (psa.Contract, bool) {
	var fit []psa.Contract
	for _, c := range contracts {
		if c.Active && c.Recurring && !ended(c.EndDate, at) {
			fit = append(fit, c)
		}
	}
	if len(fit) == 0 {
		return psa.Contract{}, false
	}
	started := func(c psa.Contract) int {
		if c.StartDate.After(at) {
			return 1
		}
		return 0
	}
	return slices.MinFunc(fit, func(a, b psa.Contract) int {
		return cmp.Or(cmp.Compare(started(a), started(b)), b.StartDate.Compare(a.StartDate), cmp.Compare(a.ID, b.ID))
	}), true
}

// ChooseLine picks the line of a contract that bills catalog item
// serviceID: not cancelled, the lowest id when several do. false when none.
func ChooseLine(lines []psa.ServiceLine, serviceID int64) (psa.ServiceLine, bool) {
	var best *psa.ServiceLine
	for i := range lines {
		l := &lines[i]
		if serviceID != 0 && l.ServiceID == serviceID && !l.Cancelled && (best == nil || l.ID < best.ID) {
			best = l
		}
	}
	if best == nil {
		return psa.ServiceLine{}, false
	}
	return *best, true
}
