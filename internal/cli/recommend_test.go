package cli

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/omniroi/omniroi/internal/testenv"
)

// `omniroi recommend evaluate` keeps its contract: a CSV of customer_id,product_id,
// timestamp[,quantity], --split-date, --k, --format json with model and popularity
// recall_at_k, ndcg_at_k, hit_rate and coverage. The file here is the Online Retail
// non-UK file rewritten in those columns.
func TestRecommendEvaluateContract(t *testing.T) {
	testenv.Slow(t, "evaluates on the Online Retail data set")
	dir := testenv.SharedDataset(t, "online-retail")
	in, err := os.Open(filepath.Join(dir, "online_retail_non_uk.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	recs, err := csv.NewReader(in).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "transactions.csv")
	f, _ := os.Create(path)
	w := csv.NewWriter(f)
	w.Write([]string{"customer_id", "product_id", "timestamp", "quantity"})
	for _, r := range recs[1:] { // InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country
		w.Write([]string{r[6], r[1], strings.Replace(r[4], " ", "T", 1) + "Z", r[3]})
	}
	w.Flush()
	f.Close()

	code, out, errs := runCLI(t, "recommend", "evaluate", "--transactions", path, "--split-date", "2011-09-01", "--k", "10", "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var res map[string]map[string]float64
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		// extra scalar fields are allowed beside the two objects
		var loose map[string]json.RawMessage
		if err2 := json.Unmarshal([]byte(out), &loose); err2 != nil {
			t.Fatalf("not JSON: %v\n%s", err, out)
		}
		res = map[string]map[string]float64{}
		for _, k := range []string{"model", "popularity"} {
			var m map[string]float64
			if err := json.Unmarshal(loose[k], &m); err != nil {
				t.Fatalf("%s: %v\n%s", k, err, out)
			}
			res[k] = m
		}
	}
	for _, k := range []string{"model", "popularity"} {
		for _, f := range []string{"recall_at_k", "ndcg_at_k", "hit_rate", "coverage"} {
			if _, ok := res[k][f]; !ok {
				t.Fatalf("%s.%s missing:\n%s", k, f, out)
			}
		}
	}
	if res["model"]["recall_at_k"] <= res["popularity"]["recall_at_k"] || res["model"]["ndcg_at_k"] <= res["popularity"]["ndcg_at_k"] {
		t.Fatalf("model does not beat popularity:\n%s", out)
	}
	code, out, _ = runCLI(t, "recommend", "evaluate", "--transactions", path, "--split-date", "2011-09-01", "--k", "10", "--method", "knn")
	if code != 0 || !strings.Contains(out, "recall@10") || !strings.Contains(out, "popularity") {
		t.Fatalf("text output %d:\n%s", code, out)
	}
	if code, _, errs := runCLI(t, "recommend", "evaluate", "--transactions", path, "--split-date", "September"); code != 1 || !strings.Contains(errs, "YYYY-MM-DD") {
		t.Fatalf("bad split date: %d %s", code, errs)
	}
}

// `omniroi import products` reads a Google Merchant feed and shows its line-numbered
// errors; `omniroi recommend products` lists the catalogue, `pin`/`rules` keep pins.
func TestImportProductsCLI(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	feed := filepath.Join(t.TempDir(), "feed.tsv")
	os.WriteFile(feed, []byte("id\ttitle\tlink\tavailability\tprice\tproduct_type\n"+
		"RYE-1\tRye loaf\thttps://crumb.example/rye\tin stock\t4.80 EUR\tBread > Rye\n"+
		"BOX-6\tPastry box\thttps://crumb.example/box\tsold out\tabc\tBoxes\n"), 0o644)
	code, _, errs := runCLI(t, "import", "products", feed, "--preset", "google-merchant", "--data", data)
	if code != 1 || !strings.Contains(errs, `line 3, column "price"`) {
		t.Fatalf("bad feed: %d %s", code, errs)
	}
	code, out, errs := runCLI(t, "import", "products", feed, "--preset", "google-merchant", "--skip-bad", "--data", data)
	if code != 0 || !strings.Contains(out, "products: 2 rows, 1 imported") {
		t.Fatalf("skip-bad: %d %s %s", code, out, errs)
	}
	code, out, _ = runCLI(t, "recommend", "products", "--data", data)
	if code != 0 || !strings.Contains(out, "RYE-1") || !strings.Contains(out, "Rye loaf") || !strings.Contains(out, "google-merchant") {
		t.Fatalf("products: %d\n%s", code, out)
	}
	if code, _, errs := runCLI(t, "recommend", "pin", "RYE-1", "--placement", "home", "--data", data); code != 0 {
		t.Fatalf("pin: %s", errs)
	}
	code, out, _ = runCLI(t, "recommend", "rules", "--json", "--data", data)
	if code != 0 || !strings.Contains(out, `"rule": "pin"`) || !strings.Contains(out, `"placement": "home"`) {
		t.Fatalf("rules: %s", out)
	}
	code, out, _ = runCLI(t, "recommend", "models", "--data", data)
	if code != 0 || !strings.Contains(out, "never uses:") || !strings.Contains(out, "opt-out:") {
		t.Fatalf("models: %s", out)
	}
}
