// NVML detection against the fake NVML library built next to this test
// (FAKE_NVML_LIB), CUDA_VISIBLE_DEVICES parsing and accelerator type names.
#include "accelerators/nvml_detector.h"

#include <gtest/gtest.h>
#include <stdlib.h>

namespace lumos::accelerators {
namespace {

class NvmlDetectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    unsetenv("FAKE_NVML_COUNT");
    unsetenv("FAKE_NVML_NAME");
    unsetenv("FAKE_NVML_INIT_FAIL");
    unsetenv("FAKE_NVML_MEMORY_MB");
    unsetenv("LUMOS_NVML_LIBRARY");
  }
  NvmlDetection Detect(int count) {
    setenv("FAKE_NVML_COUNT", std::to_string(count).c_str(), 1);
    return DetectNvidiaGpus(FAKE_NVML_LIB);
  }
};

TEST_F(NvmlDetectorTest, ZeroGpus) {
  auto d = Detect(0);
  EXPECT_TRUE(d.loaded) << d.error;
  EXPECT_TRUE(d.devices.empty());
}

TEST_F(NvmlDetectorTest, OneGpuWithNameMemoryAndUuid) {
  setenv("FAKE_NVML_MEMORY_MB", "81920", 1);
  setenv("FAKE_NVML_NAME", "NVIDIA H100 80GB HBM3", 1);
  auto d = Detect(1);
  ASSERT_TRUE(d.loaded) << d.error;
  ASSERT_EQ(d.devices.size(), 1u);
  EXPECT_EQ(d.devices[0].index, 0);
  EXPECT_EQ(d.devices[0].name, "NVIDIA H100 80GB HBM3");
  EXPECT_EQ(d.devices[0].uuid, "GPU-fake-0000");
  EXPECT_EQ(d.devices[0].memory_bytes, 81920ull << 20);
}

TEST_F(NvmlDetectorTest, EightGpusWithTheirOwnNames) {
  setenv("FAKE_NVML_NAME", "NVIDIA A100-SXM4-40GB,Tesla V100-SXM2-16GB", 1);
  auto d = Detect(8);
  ASSERT_EQ(d.devices.size(), 8u);
  EXPECT_EQ(d.devices[0].name, "NVIDIA A100-SXM4-40GB");
  EXPECT_EQ(d.devices[1].name, "Tesla V100-SXM2-16GB");
  EXPECT_EQ(d.devices[7].name, "Tesla V100-SXM2-16GB");  // the last name repeats
  EXPECT_EQ(d.devices[7].uuid, "GPU-fake-0007");
}

TEST_F(NvmlDetectorTest, LibraryFromTheEnvironment) {
  setenv("LUMOS_NVML_LIBRARY", FAKE_NVML_LIB, 1);
  setenv("FAKE_NVML_COUNT", "2", 1);
  auto d = DetectNvidiaGpus();
  EXPECT_TRUE(d.loaded) << d.error;
  EXPECT_EQ(d.devices.size(), 2u);
}

TEST_F(NvmlDetectorTest, MissingLibraryMeansNoGpuAndAReason) {
  auto d = DetectNvidiaGpus("/nonexistent/libnvidia-ml.so.1");
  EXPECT_FALSE(d.loaded);
  EXPECT_TRUE(d.devices.empty());
  EXPECT_NE(d.error.find("cannot load NVML"), std::string::npos) << d.error;
}

TEST_F(NvmlDetectorTest, LibraryWithoutNvmlSymbols) {
  auto d = DetectNvidiaGpus("libm.so.6");
  EXPECT_FALSE(d.loaded);
  EXPECT_NE(d.error.find("lacks the NVML entry points"), std::string::npos) << d.error;
}

TEST_F(NvmlDetectorTest, InitFailureMeansNoGpu) {
  setenv("FAKE_NVML_INIT_FAIL", "1", 1);
  auto d = Detect(4);
  EXPECT_FALSE(d.loaded);
  EXPECT_TRUE(d.devices.empty());
  EXPECT_NE(d.error.find("Driver Not Loaded"), std::string::npos) << d.error;
}

TEST(CudaVisibleDevicesTest, Parsing) {
  EXPECT_TRUE(ParseCudaVisibleDevices(std::nullopt).all);
  for (const char* none : {"", "NoDevFiles", "  ", "-1"}) {
    auto v = ParseCudaVisibleDevices(std::string(none));
    EXPECT_FALSE(v.all) << none;
    EXPECT_TRUE(v.entries.empty()) << none;
  }
  auto v = ParseCudaVisibleDevices(std::string(" 3, 1 ,GPU-abc"));
  EXPECT_EQ(v.entries, (std::vector<std::string>{"3", "1", "GPU-abc"}));
  v = ParseCudaVisibleDevices(std::string("0,2,-1,3"));  // CUDA stops at a negative index
  EXPECT_EQ(v.entries, (std::vector<std::string>{"0", "2"}));
}

TEST_F(NvmlDetectorTest, VisibleDevicesMaskAndReorder) {
  auto d = Detect(4);
  auto node = ResolveVisibleGpus(d, ParseCudaVisibleDevices(std::nullopt));
  EXPECT_EQ(node.gpus.size(), 4u);
  node = ResolveVisibleGpus(d, ParseCudaVisibleDevices(std::string("2,0")));
  ASSERT_TRUE(node.error.empty()) << node.error;
  ASSERT_EQ(node.gpus.size(), 2u);
  EXPECT_EQ(node.gpus[0].index, 2);
  EXPECT_EQ(node.gpus[1].index, 0);
  node = ResolveVisibleGpus(d, ParseCudaVisibleDevices(std::string("GPU-fake-0003")));
  ASSERT_EQ(node.gpus.size(), 1u);
  EXPECT_EQ(node.gpus[0].index, 3);
  node = ResolveVisibleGpus(d, ParseCudaVisibleDevices(std::string("")));
  EXPECT_TRUE(node.gpus.empty());
  EXPECT_TRUE(node.error.empty());
}

TEST_F(NvmlDetectorTest, VisibleDeviceOutOfRangeIsAnError) {
  auto d = Detect(2);
  auto node = ResolveVisibleGpus(d, ParseCudaVisibleDevices(std::string("0,7")));
  EXPECT_TRUE(node.gpus.empty());
  EXPECT_NE(node.error.find("'7'"), std::string::npos) << node.error;
  EXPECT_NE(node.error.find("2 detected"), std::string::npos) << node.error;
  node = ResolveVisibleGpus(d, ParseCudaVisibleDevices(std::string("GPU-fake-")));  // ambiguous
  EXPECT_NE(node.error.find("more than one"), std::string::npos) << node.error;
  node = ResolveVisibleGpus(d, ParseCudaVisibleDevices(std::string("1,1")));
  EXPECT_NE(node.error.find("twice"), std::string::npos) << node.error;
}

TEST(CudaVisibleDevicesTest, WithoutNvmlNothingIsVisibleOrChecked) {
  NvmlDetection none;  // not loaded
  auto node = ResolveVisibleGpus(none, ParseCudaVisibleDevices(std::string("0,7")));
  EXPECT_TRUE(node.gpus.empty());
  EXPECT_TRUE(node.error.empty());
}

TEST(AcceleratorTypeTest, FromDeviceNames) {
  EXPECT_EQ(AcceleratorTypeFromName("NVIDIA A100-SXM4-40GB"), "A100");
  EXPECT_EQ(AcceleratorTypeFromName("NVIDIA A100 80GB PCIe"), "A100");
  EXPECT_EQ(AcceleratorTypeFromName("Tesla V100-SXM2-16GB"), "V100");
  EXPECT_EQ(AcceleratorTypeFromName("Tesla T4"), "T4");
  EXPECT_EQ(AcceleratorTypeFromName("NVIDIA H100 80GB HBM3"), "H100");
  EXPECT_EQ(AcceleratorTypeFromName("NVIDIA L4"), "L4");
  EXPECT_EQ(AcceleratorTypeFromName("NVIDIA A10G"), "A10G");
  EXPECT_EQ(AcceleratorTypeFromName("NVIDIA GeForce RTX 3090"), "RTX3090");
  EXPECT_EQ(AcceleratorTypeFromName("Quadro RTX 6000"), "RTX6000");
  EXPECT_EQ(AcceleratorTypeFromName(""), "");
}

}  // namespace
}  // namespace lumos::accelerators
