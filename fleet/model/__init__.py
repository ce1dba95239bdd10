"""The typed shape fleet's parts share: what is declared for each kind of
resource (fleet.model.declarations), what AWS has of it in that shape
(fleet.model.observe), and the program's one look at AWS before it declares
anything (fleet.model.survey)."""
