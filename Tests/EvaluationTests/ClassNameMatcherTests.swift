import Service
import Testing

@Suite struct ClassNameMatcherTests {
    let matcher = ClassNameMatcher(labels: ["abseiling", "playing cricket", "passing American football (in game)",
                                            "passing American football (not in game)", "tai chi"])

    @Test func spellingsOfTheSameClassMatch() {
        #expect(matcher.index(of: "playing cricket") == 1)
        #expect(matcher.index(of: "Playing_Cricket") == 1)
        #expect(matcher.index(of: "  \"playing  cricket\" ") == 1)
        #expect(matcher.index(of: "'Tai_Chi'") == 4)
        #expect(matcher.index(of: "passing_American_football_(in_game)") == 2)
        #expect(matcher.index(of: "passing_american_football_not_in_game") == 3)
    }

    @Test func otherNamesDoNotMatch() {
        #expect(matcher.index(of: "cricket") == nil)
        #expect(matcher.index(of: "playing cricket 2") == nil)
        #expect(matcher.index(of: "") == nil)
    }

    @Test func aLooseSpellingTwoLabelsShareMatchesNeither() {
        let ambiguous = ClassNameMatcher(labels: ["a-b", "a b", "ab!"])
        #expect(ambiguous.index(of: "A_B") == 1)  // exact after normalising
        #expect(ambiguous.index(of: "ab") == nil)  // loose: all three
    }
}
