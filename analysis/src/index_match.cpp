#include "index_match.hpp"
#include "optischema/analysis/candidates.hpp"
#include "optischema/util/strings.hpp"

#include <algorithm>
#include <cctype>
#include <optional>
#include <set>
#include <string_view>
#include <utility>

// How it works: index keys, INCLUDE columns and predicates arrive as text
// (pg_get_indexdef's for existing indexes, the generator's for candidates).
// They are tokenised and brought into one canonical form (lowercase, no
// redundant parentheses, no casts that change nothing), so that two texts
// for the same index compare equal; key elements are parsed into
// expression, operator class and direction.

namespace optischema {

namespace {

using index_match::element_sig;
using index_match::index_elements;
using index_match::is_text_type;

// -- normalising index text (keys, predicates) for comparison -----------------

struct token {
  enum kind_t { word, quoted_ident, literal, symbol } kind = symbol;
  std::string text;
};

// Splits SQL expression text into tokens: identifiers lowercased unless
// quoted, whitespace dropped, string literals kept verbatim.
std::vector<token> tokenize(std::string_view x) {
  std::vector<token> out;
  size_t i = 0;
  auto is_word = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$'
      || c == '.';
  };
  while (i < x.size()) {
    char c = x[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
    } else if (c == '\'' || c == '"') {
      auto j = i + 1;
      std::string text(1, c);
      while (j < x.size()) {
        if (x[j] == c && j + 1 < x.size() && x[j + 1] == c) {
          text += std::string(2, c);
          j += 2;
        } else if (x[j] == c) {
          break;
        } else {
          text += x[j++];
        }
      }
      text += c;
      i = j + 1;
      if (c == '"') {
        // "abc" and abc are the same identifier when quoting is not needed.
        auto inner = text.substr(1, text.size() - 2);
        if (quote_ident(inner) == inner)
          out.push_back({token::word, inner});
        else
          out.push_back({token::quoted_ident, text});
      } else {
        out.push_back({token::literal, text});
      }
    } else if (is_word(c)) {
      auto j = i;
      while (j < x.size() && is_word(x[j]))
        ++j;
      out.push_back({token::word, lower(x.substr(i, j - i))});
      i = j;
    } else {
      // Operators: a run of operator characters; brackets alone.
      static constexpr std::string_view op_chars = "+-*/<>=~!@#%^&|`?:";
      auto j = i + 1;
      if (op_chars.find(c) != std::string_view::npos)
        while (j < x.size() && op_chars.find(x[j]) != std::string_view::npos)
          ++j;
      out.push_back({token::symbol, std::string{x.substr(i, j - i)}});
      i = j;
    }
  }
  return out;
}

bool is_text_like_type(std::string_view t) {
  return t == "text" || t == "varchar" || t == "character varying"
    || t == "bpchar" || t == "name" || t == "character";
}

size_t matching(const std::vector<token>& t, size_t open) {
  int depth = 0;
  for (auto i = open; i < t.size(); ++i) {
    if (t[i].kind != token::symbol)
      continue;
    if (t[i].text == "(")
      ++depth;
    else if (t[i].text == ")" && --depth == 0)
      return i;
  }
  return t.size();
}

// Whether the cast ending at out.back() is a no-op PostgreSQL prints but a
// person does not write: a string literal ('open'::text), or a column of a
// text type cast to text ((email)::text for a varchar column).
bool noop_cast_operand(const std::vector<token>& out, const table_info* t) {
  if (out.empty())
    return false;
  if (out.back().kind == token::literal)
    return true;
  auto column = [&](const token& x) {
    if (t == nullptr || x.kind != token::word)
      return false;
    auto* c = t->column(x.text);
    return c != nullptr && is_text_type(c->type);
  };
  if (column(out.back()))
    return true;
  auto n = out.size();
  return n >= 3 && out[n - 1].text == ")" && out[n - 3].text == "("
    && column(out[n - 2]);
}

// Drops casts that change nothing (see noop_cast_operand): a literal's cast
// to any type, a text column's cast to a text type.
std::vector<token> drop_casts(const std::vector<token>& in,
                              const table_info* t) {
  static constexpr std::string_view continuation[] = {
    "varying", "precision", "with", "without", "time", "zone",
  };
  std::vector<token> out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i].kind != token::symbol || in[i].text != "::" || i + 1 >= in.size()
        || in[i + 1].kind != token::word) {
      out.push_back(in[i]);
      continue;
    }
    auto j = i + 1;
    std::string type = in[j++].text;
    while (
      j < in.size() && in[j].kind == token::word
      && std::find(std::begin(continuation), std::end(continuation), in[j].text)
        != std::end(continuation))
      type += " " + in[j++].text;
    if (type.starts_with("pg_catalog."))
      type = type.substr(11);
    auto end = j;
    if (end + 1 < in.size() && in[end].text == "(") { // typmod: varchar(20)
      while (end < in.size() && in[end].text != ")")
        ++end;
      if (end < in.size())
        ++end;
    }
    bool is_array = end < in.size() && in[end].text == "[";
    bool literal = !out.empty() && out.back().kind == token::literal;
    if (!is_array
        && (literal
            || (is_text_like_type(type) && noop_cast_operand(out, t)))) {
      i = end - 1;
      continue;
    }
    out.push_back(in[i]);
  }
  return out;
}

// Removes parentheses that group nothing: around a single token, around
// another parenthesised group, around the whole text. Parentheses of a
// function call stay.
std::vector<token> drop_parens(std::vector<token> t) {
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t i = 0; i < t.size(); ++i) {
      if (t[i].kind != token::symbol || t[i].text != "(")
        continue;
      auto j = matching(t, i);
      if (j >= t.size())
        break;
      bool call = i > 0
        && (t[i - 1].kind == token::word
            || t[i - 1].kind == token::quoted_ident);
      bool whole = i == 0 && j == t.size() - 1;
      bool single = j == i + 2;
      bool nested = t[i + 1].text == "(" && matching(t, i + 1) == j - 1;
      if ((whole && !call) || (!call && (single || nested))) {
        t.erase(t.begin() + static_cast<ptrdiff_t>(j));
        t.erase(t.begin() + static_cast<ptrdiff_t>(i));
        changed = true;
        break;
      }
    }
  }
  return t;
}

std::string render(const std::vector<token>& t) {
  std::string out;
  for (size_t i = 0; i < t.size(); ++i) {
    bool wordish = t[i].kind != token::symbol;
    if (i > 0 && wordish && t[i - 1].kind != token::symbol)
      out += ' ';
    out += t[i].text;
  }
  return out;
}

/// Expression text in one canonical form: lowercase, no whitespace, no
/// redundant parentheses or no-op casts (with `t`, casts of its text
/// columns count as no-ops).
std::string normalize(std::string_view expr, const table_info* t = nullptr) {
  return render(drop_parens(drop_casts(tokenize(expr), t)));
}

bool significant_opclass(std::string_view x) {
  return x.ends_with("_pattern_ops") || x == "jsonb_path_ops"
    || x.ends_with("_trgm_ops");
}

// "starts_at DESC", "title gin_trgm_ops", "(lower(email))", "x NULLS FIRST".
element_sig parse_element(std::string_view key, std::string_view opclass = {},
                          const table_info* table = nullptr) {
  auto t = tokenize(key);
  element_sig e;
  std::optional<bool> nulls_first;
  auto last_is = [&](std::string_view w) {
    return !t.empty() && t.back().kind == token::word && t.back().text == w;
  };
  for (bool more = true; more && t.size() > 1;) {
    more = false;
    if (t.size() > 2 && t[t.size() - 2].text == "nulls"
        && (last_is("first") || last_is("last"))) {
      nulls_first = last_is("first");
      t.resize(t.size() - 2);
      more = true;
    } else if (last_is("desc") || last_is("asc")) {
      e.desc = last_is("desc");
      t.pop_back();
      more = true;
    } else if (t.size() > 1 && t.back().kind == token::word
               && t.back().text.ends_with("_ops")
               && t[t.size() - 2].kind != token::symbol) {
      auto name = t.back().text;
      if (auto dot = name.rfind('.'); dot != std::string::npos)
        name = name.substr(dot + 1);
      opclass = {};
      e.opclass = name;
      t.pop_back();
      more = true;
    } else if (t.size() > 2 && t[t.size() - 2].text == "collate") {
      t.resize(t.size() - 2);
      more = true;
    }
  }
  if (!opclass.empty())
    e.opclass = std::string{opclass};
  if (!significant_opclass(e.opclass))
    e.opclass.clear();
  e.nulls_first = nulls_first.value_or(e.desc);
  e.expr = render(drop_parens(drop_casts(t, table)));
  return e;
}

std::vector<element_sig> candidate_elements(const index_candidate& c,
                                            const table_info* t) {
  std::vector<element_sig> out;
  for (auto& k : c.keys)
    out.push_back(parse_element(k, {}, t));
  return out;
}

// Same keys in the same order, directions all equal or all reversed (a
// btree scans backwards as well as forwards).
bool btree_prefix(const std::vector<element_sig>& c,
                  const std::vector<element_sig>& idx) {
  if (c.empty() || c.size() > idx.size())
    return false;
  bool same = true;
  bool reversed = true;
  for (size_t i = 0; i < c.size(); ++i) {
    if (c[i].expr != idx[i].expr || c[i].opclass != idx[i].opclass)
      return false;
    same = same && c[i].desc == idx[i].desc
      && c[i].nulls_first == idx[i].nulls_first;
    reversed = reversed && c[i].desc != idx[i].desc
      && c[i].nulls_first != idx[i].nulls_first;
  }
  return same || reversed;
}

// A candidate whose every reason is an equality (or equi-join) can be
// served by a hash index; generate_candidates words reasons that way.
bool equality_only(const index_candidate& c) {
  return !c.reasons.empty()
    && std::all_of(c.reasons.begin(), c.reasons.end(), [](auto& r) {
         return r.starts_with("equality on ") || r.starts_with("join on ");
       });
}

bool gin_opclass_serves(std::string_view have, std::string_view need) {
  // jsonb_ops (the default) supports everything jsonb_path_ops does.
  return have == need || (have.empty() && need == "jsonb_path_ops");
}

bool method_serves(const index_candidate& c, const std::vector<element_sig>& ce,
                   const index_info& idx, const std::vector<element_sig>& ie) {
  auto any_key = [&](auto pred) {
    return std::any_of(ie.begin(), ie.end(), pred);
  };
  if (c.method == "btree") {
    if (idx.am == "btree")
      return btree_prefix(ce, ie);
    return idx.am == "hash" && ce.size() == 1 && ie.size() == 1
      && ce[0].expr == ie[0].expr && ce[0].opclass.empty() && equality_only(c);
  }
  if (ce.size() != 1)
    return false;
  if (c.method == "gin") {
    // A multi-column GIN index serves each of its columns on its own.
    if (idx.am == "gin")
      return any_key([&](const element_sig& k) {
        return k.expr == ce[0].expr
          && gin_opclass_serves(k.opclass, ce[0].opclass);
      });
    return idx.am == "gist" && ce[0].opclass == "gin_trgm_ops"
      && any_key([&](const element_sig& k) {
             return k.expr == ce[0].expr && k.opclass == "gist_trgm_ops";
           });
  }
  if (c.method == "brin") {
    if (idx.am == "brin")
      return any_key(
        [&](const element_sig& k) { return k.expr == ce[0].expr; });
    // A btree on the column already serves its ranges, better than BRIN.
    return idx.am == "btree" && !ie.empty() && ie[0].expr == ce[0].expr;
  }
  if (c.method == "hash")
    return (idx.am == "hash" || idx.am == "btree") && !ie.empty()
      && ie[0].expr == ce[0].expr && ie[0].opclass.empty();
  // gist, spgist: the same access method led by the same column.
  return idx.am == c.method && !ie.empty() && ie[0].expr == ce[0].expr
    && ie[0].opclass == ce[0].opclass;
}

bool serves(const index_candidate& c, const index_info& idx,
            const table_info& t) {
  if (!idx.valid || !idx.ready)
    return false;
  auto ce = candidate_elements(c, &t);
  auto ie = index_elements(idx, &t);
  if (!method_serves(c, ce, idx, ie))
    return false;
  std::set<std::string> available;
  for (auto& k : ie)
    available.insert(k.expr);
  for (auto& x : idx.include)
    available.insert(normalize(x, &t));
  for (auto& x : c.include)
    if (!available.contains(normalize(x, &t)))
      return false;
  // A full index serves a partial candidate; a partial one only the same
  // predicate (implication proofs are the planner's business).
  return idx.predicate.empty()
    || normalize(idx.predicate, &t) == normalize(c.predicate, &t);
}

} // namespace

bool index_match::is_text_type(std::string_view type) {
  return type == "text" || type.starts_with("character varying")
    || type.starts_with("character") || type == "citext" || type == "name";
}

std::vector<element_sig> index_match::index_elements(const index_info& idx,
                                                     const table_info* t) {
  std::vector<element_sig> out;
  for (size_t i = 0; i < idx.keys.size(); ++i)
    out.push_back(parse_element(
      idx.keys[i], i < idx.opclasses.size() ? idx.opclasses[i] : std::string{},
      t));
  return out;
}

std::string index_candidate::key() const {
  std::string out = method + "|" + schema + "." + table + "|";
  for (auto& e : keys) {
    auto sig = parse_element(e);
    out += sig.expr;
    if (!sig.opclass.empty())
      out += " " + sig.opclass;
    if (sig.desc)
      out += " desc";
    if (sig.nulls_first != sig.desc)
      out += sig.nulls_first ? " nulls first" : " nulls last";
    out += ",";
  }
  std::vector<std::string> inc;
  for (auto& x : include)
    inc.push_back(normalize(x));
  std::sort(inc.begin(), inc.end());
  inc.erase(std::unique(inc.begin(), inc.end()), inc.end());
  return out + "|" + join(inc, ",") + "|" + normalize(predicate);
}

const index_info* served_by(const index_candidate& c, const catalog& cat) {
  auto* t = cat.find(c.schema, c.table);
  if (t == nullptr)
    return nullptr;
  for (auto& idx : t->indexes)
    if (serves(c, idx, *t))
      return &idx;
  return nullptr;
}

} // namespace optischema
