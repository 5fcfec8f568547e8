from pipeline.text import analyze, mask_pii


def test_mobile_numbers_in_running_text():
    assert mask_pii("师傅说有问题打他电话13912345678就行") == "师傅说有问题打他电话[PHONE]就行"
    assert mask_pii("我的手机是138-0013-8000，下午都在") == "我的手机是[PHONE]，下午都在"
    assert mask_pii("请回电+86 186 2345 6789谢谢") == "请回电[PHONE]谢谢"
    assert mask_pii("号码１５８１２３４５６７８") == "号码[PHONE]"


def test_landlines_with_area_code_and_extension():
    assert mask_pii("打了(021)64381234没人接") == "打了[TEL]没人接"
    assert mask_pii("座机0755-86013388转206一直占线") == "座机[TEL]一直占线"
    # Company hotlines are not personal data and stay visible for analysis.
    assert mask_pii("拨打400-820-8820投诉") == "拨打400-820-8820投诉"


def test_id_card_numbers():
    assert mask_pii("身份证号440305198807213527已提交") == "身份证号[ID]已提交"
    assert mask_pii("证件号码11010519491231002X，姓名张三") == "证件号码[ID]，姓名张三"


def test_bank_card_numbers():
    assert mask_pii("退款请打到6222021001116245702这张卡") == "退款请打到[CARD]这张卡"
    assert mask_pii("卡号6228 4800 1234 5678 919，工行") == "卡号[CARD]，工行"


def test_email_addresses():
    assert mask_pii("发到zhang.wei_88@163.com或者li@corp.example.cn") == "发到[EMAIL]或者[EMAIL]"


def test_ordinary_numbers_are_left_alone():
    text = "等了45分钟，订单20240518，花了128元，3月15日投诉"
    assert mask_pii(text) == text


def test_analyze_stores_only_masked_text():
    result = analyze("客服让我把身份证440305198807213527和手机13912345678发到service@shop.com")
    assert "13912345678" not in result.model_dump_json()
    assert "440305198807213527" not in result.model_dump_json()
    assert result.text == "客服让我把身份证[ID]和手机[PHONE]发到[EMAIL]"


def test_mask_tags_are_never_keywords():
    from pipeline.text import analyze

    result = analyze("打了三次电话都没人接，我的手机13812345678，邮箱wang.li@example.com，你推我我推你")
    assert "13812345678" not in result.text and "[PHONE]" in result.text
    assert not {"PHONE", "EMAIL"} & set(result.keywords)
    assert result.keywords
