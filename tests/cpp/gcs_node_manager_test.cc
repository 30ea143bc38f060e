// GcsNodeManager as a pure state machine: time is a parameter, no sleeps.
#include "gcs/node_manager.h"

#include <gtest/gtest.h>

namespace lumos::gcs {
namespace {

rpc::NodeInfo MakeNode(const NodeID& id, double cpus = 4) {
  rpc::NodeInfo node;
  node.set_node_id(id.Binary());
  node.set_node_ip("10.0.0.1");
  (*node.mutable_total_resources())["CPU"] = cpus;
  return node;
}

TEST(GcsNodeManagerTest, RegisterMakesNodeAliveWithAvailableDefaultingToTotal) {
  GcsNodeManager m;
  NodeID id = NodeID::FromRandom();
  ASSERT_TRUE(m.RegisterNode(MakeNode(id), 1000).ok());
  auto nodes = m.GetAllNodes();
  ASSERT_EQ(nodes.size(), 1u);
  EXPECT_EQ(nodes[0].state(), rpc::NodeInfo::ALIVE);
  EXPECT_EQ(nodes[0].last_report_ms(), 1000);
  EXPECT_EQ(nodes[0].available_resources().at("CPU"), 4);
  EXPECT_EQ(m.NumAlive(), 1u);
}

TEST(GcsNodeManagerTest, ReRegisteringAnAliveIdIsAlreadyExists) {
  GcsNodeManager m;
  NodeID id = NodeID::FromRandom();
  ASSERT_TRUE(m.RegisterNode(MakeNode(id), 0).ok());
  Status s = m.RegisterNode(MakeNode(id), 5);
  EXPECT_EQ(s.code(), StatusCode::kAlreadyExists);
  EXPECT_NE(s.message().find(id.Hex()), std::string::npos);
}

TEST(GcsNodeManagerTest, DeadIdMayRegisterAgain) {
  GcsNodeManager m;
  NodeID id = NodeID::FromRandom();
  ASSERT_TRUE(m.RegisterNode(MakeNode(id), 0).ok());
  ASSERT_TRUE(m.UnregisterNode(id, "bye").ok());
  ASSERT_TRUE(m.RegisterNode(MakeNode(id, 8), 10).ok());
  auto nodes = m.GetAllNodes();
  ASSERT_EQ(nodes.size(), 1u);
  EXPECT_EQ(nodes[0].state(), rpc::NodeInfo::ALIVE);
  EXPECT_EQ(nodes[0].death_reason(), "");
  EXPECT_EQ(nodes[0].total_resources().at("CPU"), 8);
}

TEST(GcsNodeManagerTest, MalformedIdsAreRejected) {
  GcsNodeManager m;
  rpc::NodeInfo bad;
  bad.set_node_id("short");
  EXPECT_EQ(m.RegisterNode(bad, 0).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(m.RegisterNode(MakeNode(NodeID::Nil()), 0).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(m.GetAllNodes().empty());
}

TEST(GcsNodeManagerTest, UnregisterMarksDeadWithReasonAndIsIdempotent) {
  GcsNodeManager m;
  NodeID id = NodeID::FromRandom();
  ASSERT_TRUE(m.RegisterNode(MakeNode(id), 0).ok());
  ASSERT_TRUE(m.UnregisterNode(id, "raylet exiting").ok());
  ASSERT_TRUE(m.UnregisterNode(id, "second reason").ok());
  auto node = m.GetNode(id);
  ASSERT_TRUE(node.ok());
  EXPECT_EQ(node.value().state(), rpc::NodeInfo::DEAD);
  EXPECT_EQ(node.value().death_reason(), "raylet exiting");
  EXPECT_EQ(m.NumAlive(), 0u);
  EXPECT_EQ(m.UnregisterNode(NodeID::FromRandom(), "x").code(), StatusCode::kNotFound);
}

TEST(GcsNodeManagerTest, ReportResourcesUpdatesAvailableAndHeartbeat) {
  GcsNodeManager m;
  NodeID id = NodeID::FromRandom();
  ASSERT_TRUE(m.RegisterNode(MakeNode(id), 0).ok());
  bool dead = true;
  ASSERT_TRUE(m.ReportResources(id, {{"CPU", 1.5}, {"GPU", 0}}, 700, &dead).ok());
  EXPECT_FALSE(dead);
  auto node = m.GetNode(id).value();
  EXPECT_EQ(node.last_report_ms(), 700);
  EXPECT_EQ(node.available_resources().size(), 2u);
  EXPECT_EQ(node.available_resources().at("CPU"), 1.5);
  EXPECT_EQ(node.total_resources().at("CPU"), 4);
}

TEST(GcsNodeManagerTest, ReportFromDeadNodeSaysDeadAndChangesNothing) {
  GcsNodeManager m;
  NodeID id = NodeID::FromRandom();
  ASSERT_TRUE(m.RegisterNode(MakeNode(id), 0).ok());
  ASSERT_TRUE(m.UnregisterNode(id, "gone").ok());
  bool dead = false;
  ASSERT_TRUE(m.ReportResources(id, {{"CPU", 0}}, 900, &dead).ok());
  EXPECT_TRUE(dead);
  EXPECT_EQ(m.GetNode(id).value().last_report_ms(), 0);
  EXPECT_EQ(m.GetNode(id).value().available_resources().at("CPU"), 4);
}

TEST(GcsNodeManagerTest, ReportFromUnknownNodeIsNotFound) {
  GcsNodeManager m;
  bool dead = false;
  EXPECT_EQ(m.ReportResources(NodeID::FromRandom(), {}, 0, &dead).code(), StatusCode::kNotFound);
}

TEST(GcsNodeManagerTest, CheckDeadlinesKillsOnlySilentNodes) {
  GcsNodeManager m;
  NodeID quiet = NodeID::FromRandom(), chatty = NodeID::FromRandom();
  ASSERT_TRUE(m.RegisterNode(MakeNode(quiet), 0).ok());
  ASSERT_TRUE(m.RegisterNode(MakeNode(chatty), 0).ok());
  bool dead;
  ASSERT_TRUE(m.ReportResources(chatty, {{"CPU", 4}}, 9000, &dead).ok());

  EXPECT_TRUE(m.CheckDeadlines(10000, 10000).empty());  // exactly at the limit: still alive
  auto died = m.CheckDeadlines(12500, 10000);
  ASSERT_EQ(died.size(), 1u);
  EXPECT_EQ(died[0], quiet);
  auto node = m.GetNode(quiet).value();
  EXPECT_EQ(node.state(), rpc::NodeInfo::DEAD);
  EXPECT_NE(node.death_reason().find("12500 ms"), std::string::npos) << node.death_reason();
  EXPECT_EQ(m.GetNode(chatty).value().state(), rpc::NodeInfo::ALIVE);

  // Already dead nodes are not reported twice.
  EXPECT_TRUE(m.CheckDeadlines(12600, 10000).empty());
  ASSERT_TRUE(m.ReportResources(quiet, {}, 12700, &dead).ok());
  EXPECT_TRUE(dead);
}

TEST(GcsNodeManagerTest, NobodyDiesWhenNoNodeWasHeard) {
  // Every node silent at once: the GCS stalled (or one node hiccupped), not the cluster.
  GcsNodeManager m;
  NodeID a = NodeID::FromRandom(), b = NodeID::FromRandom();
  ASSERT_TRUE(m.RegisterNode(MakeNode(a), 0).ok());
  ASSERT_TRUE(m.RegisterNode(MakeNode(b), 0).ok());
  EXPECT_TRUE(m.CheckDeadlines(60000, 3000).empty());
  bool dead = false;
  ASSERT_TRUE(m.ReportResources(b, {}, 60000, &dead).ok());
  EXPECT_FALSE(dead);
  auto died = m.CheckDeadlines(60100, 3000);  // b was heard: a's silence counts now
  ASSERT_EQ(died.size(), 1u);
  EXPECT_EQ(died[0], a);
}

TEST(GcsNodeManagerTest, GetAllKeepsRegistrationOrder) {
  GcsNodeManager m;
  std::vector<NodeID> ids;
  for (int i = 0; i < 5; i++) {
    ids.push_back(NodeID::FromRandom());
    ASSERT_TRUE(m.RegisterNode(MakeNode(ids.back()), i).ok());
  }
  auto nodes = m.GetAllNodes();
  ASSERT_EQ(nodes.size(), 5u);
  for (int i = 0; i < 5; i++) EXPECT_EQ(nodes[i].node_id(), ids[i].Binary());
}

}  // namespace
}  // namespace lumos::gcs

namespace lumos::gcs {
namespace {

TEST(GcsNodeManagerDrainTest, DrainMarksTheNodeAndItsDeathSaysWhy) {
  GcsNodeManager m;
  NodeID id = NodeID::FromRandom();
  ASSERT_TRUE(m.RegisterNode(MakeNode(id), 0).ok());
  ASSERT_TRUE(m.DrainNode(id, "maintenance", 5000).ok());
  auto node = m.GetNode(id).value();
  EXPECT_TRUE(node.draining());
  EXPECT_EQ(node.drain_deadline_ms(), 5000);
  EXPECT_EQ(node.state(), rpc::NodeInfo::ALIVE);  // alive until its raylet leaves
  ASSERT_TRUE(m.UnregisterNode(id, "node drained").ok());
  EXPECT_EQ(m.GetNode(id).value().death_reason(), "node drained (maintenance)");
}

TEST(GcsNodeManagerDrainTest, UnknownDeadAndHeadNodesAreRefusedNamingWhy) {
  GcsNodeManager m;
  NodeID head = NodeID::FromRandom(), gone = NodeID::FromRandom();
  rpc::NodeInfo h = MakeNode(head);
  h.set_is_head(true);
  ASSERT_TRUE(m.RegisterNode(h, 0).ok());
  ASSERT_TRUE(m.RegisterNode(MakeNode(gone), 0).ok());
  ASSERT_TRUE(m.UnregisterNode(gone, "bye").ok());
  Status s = m.DrainNode(NodeID::FromRandom(), "", 0);
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  s = m.DrainNode(gone, "", 0);
  EXPECT_NE(s.message().find("already dead"), std::string::npos) << s.ToString();
  s = m.DrainNode(head, "", 0);
  EXPECT_NE(s.message().find("head node"), std::string::npos) << s.ToString();
  EXPECT_FALSE(m.GetNode(head).value().draining());
}

}  // namespace
}  // namespace lumos::gcs
