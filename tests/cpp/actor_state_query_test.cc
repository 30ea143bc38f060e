// ActorStateQuery: filters (case-insensitive, '=' / '!=', before the limit,
// exact totals), the per-class summary, and bad filters naming the valid keys.
#include "gcs/actor_state_query.h"

#include <gtest/gtest.h>

#include <map>
#include <tuple>

namespace lumos::gcs {
namespace {

// The table the queries borrow (as the GCS lends its rows by pointer).
std::vector<rpc::ActorTableData> MakeTable() {
  std::vector<rpc::ActorTableData> out;
  for (int i = 0; i < 10; i++) {
    rpc::ActorTableData a;
    a.set_actor_id(std::string(16, static_cast<char>(i)));
    a.set_class_name(i % 2 ? "Odd" : "Even");
    a.set_state(i < 3 ? rpc::ActorTableData::ALIVE : rpc::ActorTableData::PENDING_CREATION);
    a.mutable_address()->set_node_id(std::string(16, '\x01'));
    out.push_back(a);
  }
  return out;
}

std::vector<const rpc::ActorTableData*> Actors() {
  std::vector<const rpc::ActorTableData*> out;
  static const std::vector<rpc::ActorTableData> table = MakeTable();
  for (const auto& a : table) out.push_back(&a);
  return out;
}

rpc::GetAllActorInfoRequest Req(std::vector<std::tuple<std::string, std::string, std::string>> filters,
                                int64_t limit = 0, bool summarize = false) {
  rpc::GetAllActorInfoRequest req;
  for (auto& [k, p, v] : filters) {
    auto* f = req.add_filters();
    f->set_key(k);
    f->set_predicate(p);
    f->set_value(v);
  }
  req.set_limit(limit);
  req.set_summarize(summarize);
  return req;
}

TEST(ActorStateQueryTest, FiltersBeforeTheLimitWithExactTotals) {
  rpc::GetAllActorInfoReply r;
  ASSERT_TRUE(QueryActors(Actors(), Req({{"state", "=", "alive"}}, 2), &r).ok());
  EXPECT_EQ(r.total(), 3);
  EXPECT_EQ(r.actors_size(), 2);
  EXPECT_TRUE(r.truncated());
  r.Clear();
  ASSERT_TRUE(QueryActors(Actors(), Req({{"class_name", "!=", "ODD"}, {"state", "=", "PENDING_CREATION"}}), &r).ok());
  EXPECT_EQ(r.total(), 3);  // 4, 6, 8
  EXPECT_FALSE(r.truncated());
  r.Clear();
  std::string node_hex;
  for (int i = 0; i < 16; i++) node_hex += "01";
  ASSERT_TRUE(QueryActors(Actors(), Req({{"node_id", "=", node_hex}}), &r).ok());
  EXPECT_EQ(r.total(), 3);  // the node of alive actors only
  r.Clear();
  ASSERT_TRUE(QueryActors(Actors(), Req({{"actor_id", "=", std::string(32, '0')}}), &r).ok());
  EXPECT_EQ(r.total(), 1);
  r.Clear();
  std::string nine;
  for (int i = 0; i < 16; i++) nine += "09";
  ASSERT_TRUE(QueryActors(Actors(), Req({{"actor_id", "=", nine}}), &r).ok());
  EXPECT_EQ(r.total(), 1);
  r.Clear();
  ASSERT_TRUE(QueryActors(Actors(), Req({{"actor_id", "!=", nine}}), &r).ok());
  EXPECT_EQ(r.total(), 9);
  r.Clear();
  ASSERT_TRUE(QueryActors(Actors(), Req({{"actor_id", "=", std::string(32, 'A')}}), &r).ok());
  EXPECT_EQ(r.total(), 0);  // hex of no actor (either case)
  r.Clear();
  ASSERT_TRUE(QueryActors(Actors(), Req({{"state", "=", "no-such-state"}}), &r).ok());
  EXPECT_EQ(r.total(), 0);  // a state no actor can be in matches none ('!=' all)
  r.Clear();
  ASSERT_TRUE(QueryActors(Actors(), Req({{"state", "!=", "no-such-state"}}), &r).ok());
  EXPECT_EQ(r.total(), 10);
  r.Clear();
  ASSERT_TRUE(QueryActors(Actors(), Req({{"node_id", "=", "zz"}}), &r).ok());
  EXPECT_EQ(r.total(), 0);  // not hex: no id equals it
  r.Clear();
  ASSERT_TRUE(QueryActors(Actors(), Req({{"node_id", "=", ""}}), &r).ok());
  EXPECT_EQ(r.total(), 7);  // only an ALIVE actor shows its node
}

TEST(ActorStateQueryTest, SummaryCountsPerClassAndState) {
  rpc::GetAllActorInfoReply r;
  ASSERT_TRUE(QueryActors(Actors(), Req({}, 0, true), &r).ok());
  EXPECT_EQ(r.actors_size(), 0);
  EXPECT_EQ(r.total(), 10);
  std::map<std::string, int64_t> got;
  for (const auto& c : r.state_counts()) got[c.class_name() + "/" + c.state()] = c.count();
  EXPECT_EQ(got, (std::map<std::string, int64_t>{
                     {"Even/ALIVE", 2}, {"Even/PENDING_CREATION", 3}, {"Odd/ALIVE", 1}, {"Odd/PENDING_CREATION", 4}}));
}

TEST(ActorStateQueryTest, BadFiltersNameTheValidKeys) {
  rpc::GetAllActorInfoReply r;
  Status s = QueryActors(Actors(), Req({{"colour", "=", "red"}}), &r);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("class_name"), std::string::npos);
  EXPECT_EQ(QueryActors(Actors(), Req({{"state", "~", "x"}}), &r).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace lumos::gcs
