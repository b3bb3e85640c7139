"""The demo's consultations: invented patients, written as district doctors and councils
write them, at every stage of the workflow. No real person is described."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from telemed.cases.models import Sex, Urgency

# "written": a written consultation under way, the member's opinion given, the
# secretary's still awaited.
Stage = Literal["requested", "info_requested", "written", "scheduled", "decided", "closed"]
FileKind = Literal["ecg", "lab", "xray"]


@dataclass(frozen=True)
class DemoNote:
    author: str
    body: str
    question: int | None = None


@dataclass(frozen=True)
class DemoDecision:
    answers: tuple[str, ...]
    treatment_direction: str
    transfer: bool = False
    follow_up: str = ""


@dataclass(frozen=True)
class DemoCase:
    doctor: str
    council: str
    stage: Stage
    patient_code: str
    sex: Sex
    birth_year: int
    title: str
    summary: str
    questions: tuple[str, ...]
    specialty: str
    urgency: Urgency
    files: tuple[FileKind, ...] = ()
    info_request: str = ""
    notes: tuple[DemoNote, ...] = ()
    decision: DemoDecision | None = None
    outcome: str = ""
    # Days from today (Vietnam time) to a scheduled session, held at 09:00.
    in_days: int = 2


# Who triages, schedules, drafts and signs for each council, and who gives an opinion.
TRIAGE = {"HDCM-MIENNAM": ("gs.chutoa", "ts.thuky"), "HDCM-TW": ("gs.trunguong", "gs.trunguong")}
MEMBER = {"HDCM-MIENNAM": "gs.timmach", "HDCM-TW": "gs.thankinh"}

# Read as a table: each case opens with its route, its patient and its kind on three lines,
# which the formatter would spread over one line a field.
# fmt: off
CASES: tuple[DemoCase, ...] = (
    DemoCase(
        doctor="bs.namcan", council="HDCM-MIENNAM", stage="requested",
        patient_code="NC-2026-101", sex=Sex.MALE, birth_year=1961,
        specialty="Tim mạch", urgency=Urgency.EMERGENCY, files=("ecg",),
        title="Đau ngực cấp, nghi hội chứng vành cấp",
        summary="Nam 65 tuổi, hút thuốc lá 30 năm, tăng huyết áp. Đau ngực trái kiểu đè ép từ 3 "
        "giờ sáng, lan tay trái, vã mồ hôi. Điện tâm đồ: ST chênh lên DII, DIII, aVF. Đã cho "
        "aspirin 300 mg, clopidogrel 300 mg. Huyết áp 100/60 mmHg.",
        questions=(
            "Chẩn đoán xác định và mức độ nguy cơ?",
            "Có chỉ định chuyển tuyến can thiệp mạch vành cấp cứu không?",
        ),
    ),
    DemoCase(
        doctor="bs.namcan", council="HDCM-MIENNAM", stage="info_requested",
        patient_code="NC-2026-102", sex=Sex.FEMALE, birth_year=1985,
        specialty="Nội tổng quát", urgency=Urgency.URGENT, files=("lab",),
        title="Sốt kéo dài chưa rõ nguyên nhân",
        summary="Nữ 41 tuổi, sốt 38,5-39 °C kéo dài 3 tuần, sụt 4 kg. Bạch cầu 14 G/L, CRP "
        "tăng. Đã dùng ceftriaxone 7 ngày không đỡ. Nghe tim có tiếng thổi tâm thu mới.",
        questions=(
            "Hướng chẩn đoán tiếp theo?",
            "Có cần chuyển tuyến để làm siêu âm tim qua thực quản?",
        ),
        info_request="Đề nghị bổ sung kết quả cấy máu (3 mẫu) và siêu âm tim qua thành ngực.",
    ),
    DemoCase(
        doctor="bs.namcan", council="HDCM-MIENNAM", stage="scheduled",
        patient_code="NC-2026-103", sex=Sex.FEMALE, birth_year=1957,
        specialty="Nội tiết", urgency=Urgency.ROUTINE, files=("lab",), in_days=2,
        title="Đái tháo đường típ 2 khó kiểm soát, bệnh thận mạn",
        summary="Nữ 69 tuổi, đái tháo đường 15 năm, HbA1c 9,8 % dù metformin và gliclazide. "
        "eGFR 38 mL/phút/1,73 m². Có loét bàn chân phải đang điều trị.",
        questions=(
            "Phác đồ hạ đường huyết phù hợp với chức năng thận?",
            "Chăm sóc vết loét tại tuyến huyện hay chuyển tuyến?",
        ),
        notes=(
            DemoNote(
                "gs.timmach",
                "Đề nghị bổ sung điện tâm đồ trước phiên hội chẩn: bệnh nhân nhiều yếu tố nguy "
                "cơ tim mạch.",
            ),
        ),
    ),
    DemoCase(
        doctor="bs.namcan", council="HDCM-TW", stage="decided",
        patient_code="NC-2026-104", sex=Sex.MALE, birth_year=1949,
        specialty="Thần kinh", urgency=Urgency.EMERGENCY, files=("xray", "lab"),
        title="Nhồi máu não cấp, cân nhắc chuyển tuyến",
        summary="Nam 77 tuổi, yếu nửa người phải và nói khó từ 5 giờ trước khi nhập viện. "
        "Chụp CT sọ não không thấy xuất huyết. NIHSS 9. Rung nhĩ chưa điều trị.",
        questions=(
            "Có còn chỉ định can thiệp lấy huyết khối không?",
            "Điều trị dự phòng thứ phát sau giai đoạn cấp?",
        ),
        notes=(
            DemoNote(
                "gs.thankinh",
                "Ngoài cửa sổ tiêu huyết khối tĩnh mạch; cần CT mạch máu để đánh giá tắc mạch lớn.",
                1,
            ),
        ),
        decision=DemoDecision(
            answers=(
                "Ngoài cửa sổ tiêu huyết khối; nếu CT mạch máu có tắc mạch lớn thì còn chỉ định "
                "lấy huyết khối trong 24 giờ: chuyển tuyến ngay.",
                "Chống đông đường uống khi ổn định (sau 6-12 ngày), statin liều cao, kiểm soát "
                "huyết áp.",
            ),
            treatment_direction="Chuyển Bệnh viện Hữu Nghị để can thiệp nội mạch; trong lúc chờ "
            "giữ huyết áp dưới 185/110 mmHg.",
            transfer=True,
            follow_up="Tái khám thần kinh sau 1 tháng; đánh giá phục hồi chức năng.",
        ),
    ),
    DemoCase(
        doctor="bs.namcan", council="HDCM-TW", stage="closed",
        patient_code="NC-2026-105", sex=Sex.MALE, birth_year=1990,
        specialty="Thần kinh", urgency=Urgency.URGENT, files=("lab",),
        title="Co giật lần đầu ở người trưởng thành",
        summary="Nam 36 tuổi, cơn co giật toàn thể 2 phút, không sốt, không chấn thương. Khám "
        "thần kinh sau cơn bình thường. Điện não đồ: sóng nhọn vùng thái dương trái.",
        questions=("Có cần điều trị thuốc chống động kinh ngay không?",),
        decision=DemoDecision(
            answers=(
                "Có: điện não đồ bất thường làm tăng nguy cơ tái phát; bắt đầu levetiracetam "
                "500 mg x 2 lần/ngày.",
            ),
            treatment_direction="Điều trị tại tuyến huyện; chụp MRI sọ não khi có điều kiện.",
            follow_up="Tái khám sau 3 tháng, ghi nhật ký cơn.",
        ),
        outcome="Sau 3 tháng không có cơn tái phát, dung nạp thuốc tốt. MRI bình thường.",
    ),
    DemoCase(
        doctor="bs.uminh", council="HDCM-MIENNAM", stage="decided",
        patient_code="UM-2026-201", sex=Sex.FEMALE, birth_year=1952,
        specialty="Tim mạch", urgency=Urgency.URGENT, files=("ecg", "xray"),
        title="Suy tim mất bù, phân suất tống máu giảm",
        summary="Nữ 74 tuổi, khó thở tăng dần 1 tuần, phù hai chân, ran ẩm hai đáy phổi. "
        "NT-proBNP 6.800 pg/mL. Siêu âm tim: EF 30 %. Đang dùng furosemide 40 mg.",
        questions=(
            "Tối ưu điều trị nội khoa suy tim tại tuyến huyện?",
            "Có cần chuyển tuyến không?",
        ),
        notes=(
            DemoNote(
                "gs.timmach",
                "Huyết áp cho phép: thêm sacubitril/valsartan liều thấp, dapagliflozin và "
                "bisoprolol khi hết quá tải dịch.",
                1,
            ),
            DemoNote("bs.uminh", "Kali 4,1 mmol/L, creatinin 98 µmol/L sáng nay."),
        ),
        decision=DemoDecision(
            answers=(
                "Lợi tiểu tĩnh mạch đến khi hết quá tải; sau đó sacubitril/valsartan 24/26 mg x 2, "
                "dapagliflozin 10 mg, bisoprolol 1,25 mg, tăng liều mỗi 2 tuần.",
                "Không cần chuyển tuyến nếu đáp ứng lợi tiểu trong 48 giờ.",
            ),
            treatment_direction="Điều trị tại Trung tâm Y tế huyện U Minh theo phác đồ trên; "
            "theo dõi cân nặng, điện giải mỗi 3 ngày.",
            follow_up="Hội chẩn lại nếu không đáp ứng lợi tiểu sau 48 giờ.",
        ),
    ),
    DemoCase(
        doctor="bs.uminh", council="HDCM-MIENNAM", stage="closed",
        patient_code="UM-2026-202", sex=Sex.MALE, birth_year=1966,
        specialty="Tim mạch", urgency=Urgency.ROUTINE, files=("lab",),
        title="Tăng huyết áp kháng trị",
        summary="Nam 60 tuổi, huyết áp 170/100 mmHg dù dùng 3 thuốc liều tối đa (amlodipine, "
        "losartan, hydrochlorothiazide). Kali máu thấp 3,1 mmol/L.",
        questions=("Cần tầm soát nguyên nhân thứ phát nào?", "Điều chỉnh thuốc thế nào?"),
        decision=DemoDecision(
            answers=(
                "Tầm soát cường aldosteron nguyên phát (tỷ aldosteron/renin); ngưng thở khi ngủ.",
                "Thêm spironolactone 25 mg, bù kali, kiểm tra lại điện giải sau 1 tuần.",
            ),
            treatment_direction="Điều trị tại tuyến huyện; gửi mẫu xét nghiệm aldosteron/renin "
            "lên tuyến trên.",
            follow_up="Đo huyết áp tại nhà hai lần mỗi ngày, tái khám sau 4 tuần.",
        ),
        outcome="Sau 4 tuần huyết áp 132/84 mmHg, kali 4,0 mmol/L. Tỷ aldosteron/renin bình "
        "thường. Tiếp tục điều trị tại huyện.",
    ),
    DemoCase(
        doctor="bs.namcan", council="HDCM-MIENNAM", stage="written",
        patient_code="NC-2026-006", sex=Sex.MALE, birth_year=1966,
        specialty="Tim mạch", urgency=Urgency.URGENT, files=("ecg",),
        title="Điện tâm đồ nghi block nhĩ thất, có cần chuyển tuyến?",
        summary="Nam 60 tuổi, chóng mặt thoáng qua 2 lần trong tuần, không ngất. Mạch 48 "
        "lần/phút, huyết áp 130/80 mmHg. Đang dùng bisoprolol 5 mg.",
        questions=(
            "Điện tâm đồ là block nhĩ thất độ mấy?",
            "Có cần chuyển tuyến đặt máy tạo nhịp?",
        ),
        notes=(DemoNote("gs.timmach", "PR kéo dài dần rồi mất một QRS: Wenckebach.", question=1),),
        decision=DemoDecision(
            answers=(
                "Block nhĩ thất độ II Mobitz I (Wenckebach).",
                "Chưa cần chuyển tuyến: ngừng bisoprolol, theo dõi Holter 24 giờ.",
            ),
            treatment_direction="Ngừng bisoprolol; Holter điện tâm đồ 24 giờ; gửi lại kết "
            "quả cho hội đồng.",
            follow_up="Tái khám sau 1 tuần với kết quả Holter.",
        ),
    ),
    DemoCase(
        doctor="bs.uminh", council="HDCM-TW", stage="requested",
        patient_code="UM-2026-203", sex=Sex.FEMALE, birth_year=1978,
        specialty="Thần kinh", urgency=Urgency.URGENT, files=("lab",),
        title="Yếu hai chân tiến triển, rối loạn cảm giác",
        summary="Nữ 48 tuổi, yếu hai chân tăng dần 2 tuần, tê bì từ ngực trở xuống, bí tiểu. "
        "Không chấn thương. Phản xạ gân xương hai chân tăng.",
        questions=("Chẩn đoán định khu và nguyên nhân?", "Cần chuyển tuyến chụp MRI cấp không?"),
    ),
    DemoCase(
        doctor="bs.uminh", council="HDCM-TW", stage="info_requested",
        patient_code="UM-2026-204", sex=Sex.MALE, birth_year=1971,
        specialty="Thần kinh", urgency=Urgency.URGENT,
        title="Đau đầu mạn tính mới xuất hiện, nghi tổn thương nội sọ",
        summary="Nam 55 tuổi, đau đầu tăng dần 2 tháng, nặng hơn về sáng, kèm nôn. Soi đáy "
        "mắt nghi phù gai thị.",
        questions=("Hướng chẩn đoán hình ảnh?",),
        info_request="Đề nghị gửi kết quả CT sọ não có cản quang nếu đã chụp.",
    ),
    DemoCase(
        doctor="bs.uminh", council="HDCM-TW", stage="scheduled",
        patient_code="UM-2026-205", sex=Sex.MALE, birth_year=1955,
        specialty="Thần kinh", urgency=Urgency.ROUTINE, files=("lab",), in_days=3,
        title="Bệnh Parkinson đáp ứng kém với levodopa",
        summary="Nam 71 tuổi, Parkinson 6 năm, levodopa/benserazide 250 mg x 3. Dao động vận "
        "động, loạn động cuối liều, té ngã 2 lần trong tháng.",
        questions=("Điều chỉnh phác đồ thuốc?", "Có chỉ định phục hồi chức năng chuyên sâu?"),
    ),
)
# fmt: on
