import Foundation
import Service
import Testing

@Suite struct EvaluationDatasetTests {
    typealias Item = EvaluationDataset.Item

    @Test func aKineticsFolderListsEveryVideoUnderItsClassInNameOrder() throws {
        let root = try TemporaryFolder()
        try root.write("tai_chi/b.mp4", "x")
        try root.write("tai_chi/a.mp4", "x")
        try root.write("Playing_Cricket/z.webm", "x")
        try root.write("tai_chi/.DS_Store", "x")
        try root.write("README.txt", "not a class")
        let dataset = try EvaluationDataset.load(root.path)
        #expect(dataset.items == [Item(path: root.file("Playing_Cricket/z.webm"), className: "Playing_Cricket"),
                                  Item(path: root.file("tai_chi/a.mp4"), className: "tai_chi"),
                                  Item(path: root.file("tai_chi/b.mp4"), className: "tai_chi")])
        #expect(dataset.classIndex == nil)
    }

    @Test func aCSVListIsPathThenLabelWithOrWithoutAHeaderAndRelativeToItsFolder() throws {
        let root = try TemporaryFolder()
        let bare = try root.write("lists/bare.csv", "videos/a.mp4,tai chi\r\n\n/abs/b.mp4,\"juggling, balls\"\n\"c \"\"d\"\".mp4\",yoga")
        #expect(try EvaluationDataset.load(bare).items == [
            Item(path: root.file("lists/videos/a.mp4"), className: "tai chi"),
            Item(path: "/abs/b.mp4", className: "juggling, balls"),
            Item(path: root.file("lists/c \"d\".mp4"), className: "yoga"),
        ])
        let headed = try root.write("headed.csv", "label,video,extra\nyoga,v1.mp4,1\n")
        #expect(try EvaluationDataset.load(headed).items == [Item(path: root.file("v1.mp4"), className: "yoga")])
    }

    @Test func theKineticsCSVNamesVideosAsTheMindSporeProjectDoes() throws {
        let root = try TemporaryFolder()
        let list = try root.write("kinetics-400_val.csv", """
            label,youtube_id,time_start,time_end,split
            abseiling,--33Lscn6sk,4,14,val
            "air drumming",--nQbRBEz2s,104,114,val

            """)
        #expect(try EvaluationDataset.load(list).items == [
            Item(path: root.file("val/--33Lscn6sk_000004_000014.mp4"), className: "abseiling"),
            Item(path: root.file("val/--nQbRBEz2s_000104_000114.mp4"), className: "air drumming"),
        ])
        // Without the file-name pattern the split column says where the videos are.
        let other = try root.write("mine.csv", "youtube_id,label,time_start,time_end,split\nabc,yoga,0,10,test\n")
        #expect(try EvaluationDataset.load(other).items == [Item(path: root.file("test/abc_000000_000010.mp4"), className: "yoga")])
    }

    @Test func aJSONListTakesObjectsOrPairs() throws {
        let root = try TemporaryFolder()
        let list = try root.write("list.json", #"[{"path": "a.mp4", "label": "yoga"}, ["/b.mp4", "tai chi"], {"video": "c.mp4", "class": "zumba"}]"#)
        #expect(try EvaluationDataset.load(list).items == [
            Item(path: root.file("a.mp4"), className: "yoga"), Item(path: "/b.mp4", className: "tai chi"),
            Item(path: root.file("c.mp4"), className: "zumba"),
        ])
    }

    @Test func aClassIndexGivesTheModelsClassOrderAndNeedsAList() throws {
        let root = try TemporaryFolder()
        let index = try root.write("cls2index.json", #"{"zumba": 2, "abseiling": 0, "yoga": 1}"#)
        let list = try root.write("kinetics-400_test.csv", "label,youtube_id,time_start,time_end,split\nyoga,q,1,11,test\n")
        let dataset = try EvaluationDataset.load(index, list: list)
        #expect(dataset.classIndex == ["abseiling", "yoga", "zumba"])
        #expect(dataset.items == [Item(path: root.file("test/q_000001_000011.mp4"), className: "yoga")])
        #expect(throws: EvaluationError.classIndexNeedsList(path: index)) { try EvaluationDataset.load(index) }
        let gap = try root.write("gap.json", #"{"a": 0, "b": 2}"#)
        #expect(throws: EvaluationError.self) { try EvaluationDataset.load(gap, list: list) }
        let twice = try root.write("twice.json", #"{"a": 0, "b": 0}"#)
        #expect(throws: EvaluationError.self) { try EvaluationDataset.load(twice, list: list) }
    }

    @Test func malformedListsSayWhereAndWhy() throws {
        let root = try TemporaryFolder()
        let open = try root.write("open.csv", "a.mp4,yoga\n\"b.mp4,zumba\n")
        #expect(throws: EvaluationError.malformedList(path: open, line: 2, reason: "a quoted field is never closed")) {
            try EvaluationDataset.load(open)
        }
        let short = try root.write("short.csv", "a.mp4,yoga\nb.mp4\n")
        #expect(throws: EvaluationError.malformedList(path: short, line: 2, reason: "expected path,label, found 1 field")) {
            try EvaluationDataset.load(short)
        }
        let json = try root.write("bad.json", #"[{"path": "a.mp4"}]"#)
        #expect(throws: EvaluationError.self) { try EvaluationDataset.load(json) }
        let empty = try root.write("empty.csv", "\n\n")
        #expect(throws: EvaluationError.emptyDataset(path: empty)) { try EvaluationDataset.load(empty) }
        #expect(throws: EvaluationError.unreadable(path: root.file("missing"))) { try EvaluationDataset.load(root.file("missing")) }
    }
}
