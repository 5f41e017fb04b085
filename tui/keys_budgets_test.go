package tui

import (
	"strings"
	"testing"

	"github.com/aigw/aigw/admin"
)

// The key form's budget fields, below Models: the form scrolls to them
// (the create form is taller than 80×24), they become the request, a bad
// amount is refused under its field, and a key's budgets show in its
// details.
func TestKeyFormBudgets(t *testing.T) {
	m := keysModel(t)
	press(m, "a")
	mustContain(t, m.View(), "↓ 3 more")
	for range modelsField + 1 {
		press(m, "tab")
	}
	typeText(m, "-5")
	press(m, "tab")
	typeText(m, "1000000")
	press(m, "tab")
	typeText(m, "500")
	press(m, "tab", "right") // unpriced: allow → deny
	v := m.View()
	mustContain(t, v, "↑ ", "Cost/month (USD)", "Tokens/month", "Cost total (USD)", "‹ deny ›")
	if cmd := press(m, "enter"); cmd != nil {
		if _, ok := cmd().(keyCreatedMsg); ok {
			t.Fatal("a negative monthly cost was submitted")
		}
	}
	v = m.View()
	mustContain(t, v, `✗ "-5" is not an amount of USD`)
	if line := screenLine(v, "-5"); !strings.HasPrefix(line, "› Cost/month") {
		t.Errorf("the field in error does not have the focus: %q", line)
	}
	for range 2 {
		press(m, "backspace")
	}
	typeText(m, "50")
	p := m.pages[2].(*keysPage)
	if cmd := press(m, "enter"); cmd == nil || !p.form.busy {
		t.Fatalf("a valid form was not submitted:\n%s", m.View())
	}
	in, _ := p.createInput()
	if in.MonthlyCost != 50 || in.MonthlyTokens != 1000000 || in.TotalCost != 500 || in.Unpriced != admin.UnpricedDeny {
		t.Errorf("create request budgets: %+v", in.Limits)
	}

	m = newTestModel(t, nil)
	press(m, "3")
	keys := fixtureKeys()
	keys.Keys[0].MonthlyCost, keys.Keys[0].MonthlyTokens, keys.Keys[0].Unpriced = 50, 2_000_000, admin.UnpricedDeny
	send(m, statusMsg{Status: fixtureStatus()}, keys)
	mustContain(t, m.View(), "budgets", "$50.00/month · 2.0M tokens/month · unpriced deny")
	press(m, "e")
	p = m.pages[2].(*keysPage)
	patch, _ := p.patch()
	if patch.MonthlyCost == nil || *patch.MonthlyCost != 50 || *patch.MonthlyTokens != 2_000_000 || *patch.TotalCost != 0 || *patch.Unpriced != admin.UnpricedDeny {
		t.Errorf("unchanged edit form: patch budgets %v %v %v %v", patch.MonthlyCost, patch.MonthlyTokens, patch.TotalCost, patch.Unpriced)
	}
}

// The key's details say how much of each budget is used, as the gateway
// reports it.
func TestKeyDetailsShowBudgetUse(t *testing.T) {
	m := newTestModel(t, nil)
	press(m, "3")
	msg := fixtureKeys()
	k := &msg.Keys[0]
	k.MonthlyCost, k.MonthlyTokens = 50, 2_000_000
	reset := testNow.AddDate(0, 1, 0)
	k.BudgetUse = []admin.BudgetUse{
		{Budget: "monthly_cost", Period: "2025-06", Used: 12.5, Limit: 50, Reset: &reset},
		{Budget: "monthly_tokens", Period: "2025-06", Used: 1_500_000, Limit: 2_000_000, Reset: &reset},
	}
	send(m, msg)
	mustContain(t, screenLine(m.View(), "budgets "), "$12.50 of $50.00/month (25%) · 1.5M of 2.0M tokens/month (75%)")
	checkFits(t, m.View(), 80, 24)
}
