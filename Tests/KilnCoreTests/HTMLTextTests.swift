import KilnCore
import XCTest

/// The one HTML escaping rule (nightly report and audit page).
final class HTMLTextTests: XCTestCase {
    func testEscapesTheFiveCharactersAndNothingElse() {
        XCTAssertEqual(HTMLText.escape(#"<a href="x" title='y'>&amp;</a>"#),
                       "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;")
        XCTAssertEqual(HTMLText.escape("plain — ünïcode"), "plain — ünïcode")
        // An ampersand followed by a combining mark is one Character; it is still escaped.
        XCTAssertEqual(HTMLText.escape("&\u{301}<"), "&amp;\u{301}&lt;")
    }
}
