#include "weighlink/base/hash.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "weighlink/testing/process.hpp"

using weighlink::base::file_sha256;
using weighlink::base::hmac_hex;
using weighlink::base::sha256_hex;

namespace {

std::vector<unsigned char> bytes(const std::string& text) { return {text.begin(), text.end()}; }

}  // namespace

TEST_CASE("sha256: FIPS 180-4 test vectors, in memory and from a file") {
  CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const std::string two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  CHECK(sha256_hex(two_blocks) ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  // A million 'a's: more than one read of file_sha256's buffer.
  const std::string million(1000000, 'a');
  const auto expected = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
  CHECK(sha256_hex(million) == expected);
  weighlink::testing::TempDir dir("wl-hash");
  weighlink::testing::write_text(dir / "a.bin", million);
  CHECK(file_sha256(dir / "a.bin") == std::optional<std::string>(expected));
  CHECK_FALSE(file_sha256(dir / "missing.bin"));
}

TEST_CASE("hmac-sha256: RFC 4231 test vectors (short, long and block-sized keys)") {
  // Test case 1: a 20-byte key.
  CHECK(hmac_hex(std::vector<unsigned char>(20, 0x0b), "Hi There") ==
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  // Test case 2: a key shorter than the hash.
  CHECK(hmac_hex(bytes("Jefe"), "what do ya want for nothing?") ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // Test case 6: a 131-byte key, hashed first.
  CHECK(hmac_hex(std::vector<unsigned char>(131, 0xaa),
                 "Test Using Larger Than Block-Size Key - Hash Key First") ==
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
  // Test case 7: a 131-byte key and a long message.
  CHECK(hmac_hex(std::vector<unsigned char>(131, 0xaa),
                 "This is a test using a larger than block-size key and a larger than block-size "
                 "data. The key needs to be hashed before being used by the HMAC algorithm.") ==
        "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
  // A key of exactly one block (64 bytes) is used as it is (Python's hmac module).
  CHECK(hmac_hex(std::vector<unsigned char>(64, 0x01), "m") ==
        "b96bc26f3480823f41acd7fcd3b0a2cae47b293a924f25c2b07fc9a477ca7c99");
  CHECK(hmac_hex({}, "") == "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}
